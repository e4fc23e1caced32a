"""Reports: the stable JSON report (json_report) and the text summary (summary). No textual, no azure."""
