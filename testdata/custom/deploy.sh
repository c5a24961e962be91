#!/bin/sh
echo apply
