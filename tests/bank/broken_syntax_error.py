# A typo: the file does not even import.
from fastapi import FastAPI
app = FastAPI()

@app.get("/chat-stream")
async def chat_stream(prompt: str = "Hello from FastAPI!"
    return prompt
