"""Names of the RUL network's input and outputs, shared by training, export and serving (no Keras here)."""

RUL_OUTPUT = "rul"
FAILURE_OUTPUT = "failure"
INPUT_NAME = "window"
