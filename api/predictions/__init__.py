"""Health and RUL predictions: the latest per machine, and scoring a window sent in the request."""
