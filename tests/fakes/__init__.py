"""Fake external systems for contract tests: real HTTP(S) servers on 127.0.0.1.

``rest_server`` runs a fake in a thread and plays injected faults; ``items`` builds the
stored items connectors receive; one module per system (``salesforce``, ``hubspot``,
``pipedrive``, …) keeps that system's records in memory and answers its documented paths.
"""
