"""The scheduler and its jobs: silent machines, partition upkeep and jobs requested through the API.

Every firing is claimed in `job_runs` before it runs, so a firing runs once however many schedulers
see it, and every run's outcome (status, error, figures) is recorded there.
"""
