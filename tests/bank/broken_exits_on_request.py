# Kills its own server on every request (a stray os._exit or sys.exit in a route).
import os

from fastapi import FastAPI

app = FastAPI()


@app.get("/chat-stream")
def chat_stream():
    os._exit(1)


@app.get("/bigfile")
def bigfile():
    os._exit(1)


@app.get("/events")
def events():
    os._exit(1)
