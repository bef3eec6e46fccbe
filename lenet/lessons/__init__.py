"""One module per concept page: its worked arithmetic, examples, figures and "show the code" snippets together.

grids.py holds what several pages share: a small matrix parsed, printed, and drawn with a sliding window.
"""
