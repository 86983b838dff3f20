# Waits for something forever at import time.
import threading

threading.Event().wait()
from fastapi import FastAPI

app = FastAPI()
