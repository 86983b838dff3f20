# The notes' snippet pasted into the starter without its import: the first
# token goes out, then `time` is not defined and the generator raises.
import re
from typing import Annotated

from fastapi import FastAPI, Query
from fastapi.responses import StreamingResponse

app = FastAPI()


@app.get("/chat-stream")
def chat_stream(prompt: str = "Hello from FastAPI!", delay: Annotated[float, Query(ge=0, le=5)] = 0.2):
    def tokens():
        for token in re.findall(r"\S+\s*|\s+", prompt):
            yield token
            time.sleep(delay)  # noqa: F821  (the missing import is the bug)

    return StreamingResponse(tokens(), media_type="text/plain")
