"""Tests of deploy/ and of the installation and operations guides."""
