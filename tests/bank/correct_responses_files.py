# Correct: the CSV and the bytes are written to files and sent with
# FileResponse (which sets Content-Length and, given a filename,
# Content-Disposition), the CSV by the csv module; the text and the page are
# plain Response objects with a media type; the redirect is a bare 301 whose
# Location is the full URL of /page on the address the client used.
import csv
import io
import tempfile
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, Response, StreamingResponse

app = FastAPI()
FILES = Path(tempfile.mkdtemp(prefix="responses-bank-"))


def squares_text(rows: int) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["n", "square"])
    for n in range(1, rows + 1):
        writer.writerow([n, n * n])
    return buffer.getvalue()


@app.get("/hello")
def hello(name: str = "world"):
    return Response(content=f"Hello, {name}!".encode(), media_type="text/plain")


@app.get("/page", name="page")
def page():
    return Response("<!DOCTYPE html><title>4</title><h1>Responses</h1>", media_type="text/html")


@app.get("/squares.csv")
def squares_csv(rows: int = 3):
    path = FILES / f"squares-{rows}.csv"
    path.write_text(squares_text(rows), newline="")
    return FileResponse(path, filename="squares.csv")


@app.get("/squares-stream.csv")
def squares_stream_csv(rows: int = 3):
    def rows_one_by_one():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["n", "square"])
        for n in range(1, rows + 1):
            writer.writerow([n, n * n])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        yield buffer.getvalue()

    return StreamingResponse(
        rows_one_by_one(), media_type="text/csv", headers={"Content-Disposition": 'attachment; filename="squares.csv"'}
    )


@app.get("/bytes")
def counting_bytes(n: int = 256):
    path = FILES / f"bytes-{n}.bin"
    path.write_bytes(bytes(i % 256 for i in range(n)))
    return FileResponse(path, media_type="application/octet-stream")


@app.get("/old-page")
def old_page(request: Request):
    return Response(status_code=301, headers={"Location": str(request.url_for("page"))})
