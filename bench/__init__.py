"""Synthetic registry data and the benchmark suite (`make bench`).

Not a Django app: a tool that sits above all four apps (it writes every app's tables in bulk), the way `config/`
does, so the apps' one-way import rule does not apply to it.
"""
