"""Example recipes for the simulator's products, shipped as package data.

A regular package (not a namespace one) so that importlib.resources can read it under an editable install.
"""
