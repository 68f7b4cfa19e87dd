"""Translation between Anthropic's Messages API and OpenAI's chat completions, both ways.

Pure functions and small streaming state machines: no I/O, no laneway state. Fields with
no counterpart on the other side are dropped, never an error.
"""
