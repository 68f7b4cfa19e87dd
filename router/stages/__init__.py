"""The chain of stages a request passes (chain.py reads in order), one module per stage:
classify, choose, cache, trim, upstream, render, record; notes.py is what they hand on."""
