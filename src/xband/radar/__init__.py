"""radar"""
