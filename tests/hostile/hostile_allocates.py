# Takes 3 GiB of memory at import, touching every page.
from fastapi import FastAPI

MARKER = "@MARKER@"

blocks = [b"\x01" * (256 * 2**20) for _ in range(12)]

app = FastAPI()
