# The FastAPI object has another name, so uvicorn finds no `app`.
from fastapi import FastAPI

application = FastAPI()
