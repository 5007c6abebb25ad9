"""This machine and the libraries mlcpu leans on: usable cores, private temporary folders,
worker-process guards, and the one checked door to other libraries' internals (``thirdparty``).
"""
