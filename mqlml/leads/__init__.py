"""The leads: schema, activity-log features, outcome windows, data checks, synthetic leads
with known answers and the starter config."""
