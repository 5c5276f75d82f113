#!/bin/sh
# Install the one-folder bundle for the current user, with its menu entry, icon and the .ltz type:
#   packaging/linux/install.sh [BUNDLE_DIR]     (default: dist/latentzip, made by `make package`)
#   packaging/linux/install.sh --uninstall
# Puts the bundle in ~/.local/opt/latentzip and a `latentzip` link in ~/.local/bin (on PATH in most
# desktop sessions), then registers the desktop entry, the icon and the MIME type with xdg-utils,
# so that opening an .ltz file from the file manager opens it in Latentzip. As root, the same
# xdg-* commands with --mode system (and /opt, /usr/local/bin) install it for every user.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
opt="$HOME/.local/opt/latentzip"
bin="$HOME/.local/bin"
icon="$root/resources/icons/latentzip.png"

if [ "${1:-}" = "--uninstall" ]; then
  xdg-desktop-menu uninstall --mode user latentzip.desktop || true
  xdg-mime uninstall --mode user "$here/latentzip-mime.xml" || true
  xdg-icon-resource uninstall --mode user --context apps --size 256 latentzip || true
  xdg-icon-resource uninstall --mode user --context mimetypes --size 256 application-x-latentzip || true
  rm -f "$bin/latentzip"
  rm -rf "$opt"
  echo "Latentzip uninstalled"
  exit 0
fi

bundle=$(cd "${1:-$root/dist/latentzip}" && pwd)
[ -x "$bundle/latentzip" ] || { echo "no bundle at $bundle: run make package" >&2; exit 1; }
mkdir -p "$(dirname "$opt")" "$bin"
rm -rf "$opt"
cp -a "$bundle" "$opt"
ln -sf "$opt/latentzip" "$bin/latentzip"
xdg-icon-resource install --mode user --novendor --context apps --size 256 "$icon" latentzip
xdg-mime install --mode user --novendor "$here/latentzip-mime.xml"
xdg-icon-resource install --mode user --novendor --context mimetypes --size 256 "$icon" application-x-latentzip
# The desktop file runs `latentzip` from PATH; point it at the installed copy in case ~/.local/bin is not on PATH.
tmp=$(mktemp -d)
sed "s|^Exec=latentzip |Exec=$bin/latentzip |; s|^TryExec=latentzip|TryExec=$bin/latentzip|" \
  "$here/latentzip.desktop" > "$tmp/latentzip.desktop"
xdg-desktop-menu install --mode user --novendor "$tmp/latentzip.desktop"
rm -rf "$tmp"
xdg-mime default latentzip.desktop application/x-latentzip
echo "Latentzip installed: $opt; .ltz files open with it ($(xdg-mime query default application/x-latentzip))"
