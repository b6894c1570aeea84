"""Quality statistics of lines: defect rate per sample with p-chart limits."""
