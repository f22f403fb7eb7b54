#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# openssl s_client downloads from ktls-serve, every version and cipher
# (the s_client part of test_serve.sh, run as a program of its own).
exec sh "$(dirname "$0")/test_serve.sh" sclient
