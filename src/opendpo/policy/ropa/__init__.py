"""Records of processing activities (UK GDPR Art 30(1)), built from the policy.

`build.build_records` turns a policy into `records.RecordsOfProcessing`; each exporter
(CSV, XLSX, HTML, JSON, JSON-LD with DPV terms) reads only those records.
`formats.FORMATS` lists the exporters by name.
"""
