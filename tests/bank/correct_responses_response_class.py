# Correct: routes return plain values and name their class in the decorator
# (response_class=...), the CSV is joined with "\n" and has no final newline,
# and the redirect's status is declared with the route.
from fastapi import FastAPI, status
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse

app = FastAPI()


@app.get("/hello", response_class=PlainTextResponse)
async def hello(name: str = "world") -> str:
    return "Hello, " + name + "!"


@app.get("/page", response_class=HTMLResponse)
async def page() -> str:
    return """
<!doctype html>
<html>
  <head><meta charset="utf-8"><title>Exercise 4</title></head>
  <body>
    <h1>Responses</h1>
    <p>Héllo from an HTML page.</p>
  </body>
</html>"""


def table(rows: int) -> list[str]:
    return ["n,square", *(f"{n},{n**2}" for n in range(1, rows + 1))]


@app.get("/squares.csv")
async def squares_csv(rows: int = 3) -> Response:
    return Response(
        content="\n".join(table(rows)),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": "attachment; filename=squares.csv"},
    )


@app.get("/squares-stream.csv")
async def squares_stream_csv(rows: int = 3) -> StreamingResponse:
    async def lines():
        for line in table(rows):
            yield line + "\n"

    return StreamingResponse(lines(), media_type="text/csv")


@app.get("/bytes")
async def counting_bytes(n: int = 256) -> Response:
    data = bytearray()
    for i in range(n):
        data.append(i % 256)
    return Response(content=bytes(data), media_type="application/octet-stream")


@app.get("/old-page", response_class=RedirectResponse, status_code=status.HTTP_301_MOVED_PERMANENTLY)
async def old_page() -> str:
    return "/page"
