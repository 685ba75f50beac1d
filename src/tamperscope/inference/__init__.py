"""Preprocessing, bounded-resolution inference and postprocessing."""
