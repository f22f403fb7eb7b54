#!/bin/sh
# Placeholder demo guest script (runs inside the VM as /ktls/guest.sh).
# Loads the module, shows it, and runs /ktls/bin/ktls-demo if present.
# Its exit status reaches the host as "KTLS-VM-DONE rc=N".
set -e
echo "== ktls demo on $(uname -r)"
insmod "${KTLS_KO:-/ktls/ktls.ko}"
echo "== lsmod"
lsmod
echo "== dmesg (tail)"
dmesg | tail -n 15
if [ -x /ktls/bin/ktls-demo ]; then
	echo "== /ktls/bin/ktls-demo"
	/ktls/bin/ktls-demo
else
	echo "== no /ktls/bin/ktls-demo in the image; nothing more to show"
fi
