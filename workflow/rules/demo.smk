# The generated demo scene and demo styles (no data needed).
