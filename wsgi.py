import gc

from portal import create_app

app = create_app()

# A list request allocates some 100 000 short-lived objects: with Python's default threshold
# (700) the cyclic collector runs a hundred times a request and walks the whole app's objects
# each time it reaches the older generations. The app's own objects, made at start-up, are
# frozen out of its sight (and, imported once by gunicorn's master with --preload, stay shared
# with the workers); the young generation is collected every 50 000 allocations.
gc.freeze()
gc.set_threshold(50_000, 20, 20)
