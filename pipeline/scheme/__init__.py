"""The filing scheme (分类方案): classes, retention periods, volume keys, and 档号 templates.

One place that config, classify and filing all read: :mod:`pipeline.scheme.taxonomy` loads
``config/taxonomy.yaml``; :mod:`pipeline.scheme.archival_code` renders a 档号 from its template
(DA/T 13, DA/T 22).
"""
