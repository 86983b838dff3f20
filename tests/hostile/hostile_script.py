# Answers every request with script in the body and in a header, hoping a report shows it as HTML.
from fastapi import FastAPI
from fastapi.responses import HTMLResponse

MARKER = "@MARKER@"
SCRIPT = "<script>document.title='pwned'</script><img src=x onerror=alert(1)>"

app = FastAPI()


@app.get("/{path:path}")
def everything(path: str):
    return HTMLResponse(SCRIPT * 3, headers={"X-Hostile": SCRIPT})
