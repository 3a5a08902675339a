"""Tests of edge.identity.passes: the verifier, DCC conformance, fuzzing."""
