"""Stack config read into typed section models, validated as a whole before any resource exists.

Imports no component: components import their section models from here.
"""
