# The download counts from 0: one row too many, and the table starts at 0,0.
# (The streamed CSV is right: it has a generator of its own.)
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse

app = FastAPI()

PAGE = "<!DOCTYPE html>\n<html><head><title>Responses</title></head><body><h1>Responses</h1></body></html>\n"
CSV_HEADERS = {"Content-Disposition": 'attachment; filename="squares.csv"'}


def squares(rows: int):
    yield "n,square\r\n"
    for n in range(1, rows + 1):
        yield f"{n},{n * n}\r\n"


@app.get("/hello")
def hello(name: str = "world"):
    return PlainTextResponse(f"Hello, {name}!")


@app.get("/page")
def page():
    return HTMLResponse(PAGE)


@app.get("/squares.csv")
def squares_csv(rows: int = 3):
    text = "n,square\r\n"
    for n in range(rows + 1):
        text += f"{n},{n * n}\r\n"
    return Response(text, media_type="text/csv", headers=CSV_HEADERS)


@app.get("/squares-stream.csv")
def squares_stream_csv(rows: int = 3):
    return StreamingResponse(squares(rows), media_type="text/csv", headers=CSV_HEADERS)


@app.get("/bytes")
def counting_bytes(n: int = 256):
    return Response(bytes(i % 256 for i in range(n)), media_type="application/octet-stream")


@app.get("/old-page")
def old_page():
    return RedirectResponse("/page", status_code=301)
