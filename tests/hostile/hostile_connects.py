# Tries to reach the network: a listener on 127.0.0.1 (opened by the test), at import and on every request.
import socket

from fastapi import FastAPI

MARKER = "@MARKER@"
PORT = int("@PORT@")


def call_out() -> None:
    try:
        with socket.create_connection(("127.0.0.1", PORT), timeout=1) as connection:
            connection.sendall(b"hostile " + MARKER.encode())
    except OSError:
        pass


call_out()
app = FastAPI()


@app.get("/chat-stream")
def chat_stream(prompt: str):
    call_out()
    return prompt
