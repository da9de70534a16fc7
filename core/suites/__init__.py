"""Evaluation suites: named sets of labeled test images, one domain each (`web`, `posed`, `low-res`, ...), that are
never trained on. Models are compared on every domain, and promotion looks at the worst one."""
