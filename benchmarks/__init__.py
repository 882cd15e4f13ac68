"""The benchmarks behind `make bench` (run.py), importable as a package by the book and the tests."""
