"""Measuring the gate against truth: scoring a replay against labels (`evaluate`; labels.json
checked by `labels`, who was recognised by `identity_score`, pass decisions by `pass_score`),
the recognition threshold's ROC on labelled photos (`face_roc`), plots, the RGB -> thermal
calibration fit, the site offset from thermometer readings (`calibrate_temp`) and the FDA
skin -> body fit.

May import every package except `cli`; nothing in the gate path imports it.
"""
