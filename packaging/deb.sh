#!/bin/sh
# Builds the silo Debian package with dpkg-deb from a built binary.
#
#   deb.sh --binary FILE --doc DIR [--version V] [--commit C] [--out DIR]
#
# FILE is the silo binary to ship; DIR holds silo.1 and silo.conf, written
# by `silo man` and `silo config --example` (`make doc`). --version and
# --commit (named in the changelog) default to scripts/version.sh's; --out
# (default build/) gets silo_VERSION_ARCH.deb, whose path is printed last.
#
# The files go where `make install-files PREFIX=/usr` puts them (one
# install logic for both). Then: the binary stripped, the manual page and
# the changelog compressed, Depends from dpkg-shlibdeps (the shlibs of the
# libraries the binary links), /etc/silo/silo.conf a conffile, md5sums,
# and the maintainer scripts of packaging/ (the silo user and /var/lib/silo
# from sysusers.d/tmpfiles.d; the unit neither enabled nor started).
# `make deb` calls this with the hardened build; the upgrade test
# (tests/blackbox/test_install.py) with older binaries.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
binary="" doc="" version="" commit="" out="$root/build"
while [ $# -gt 0 ]; do
    case "$1" in
    --binary) binary=$2 ;;
    --doc) doc=$2 ;;
    --version) version=$2 ;;
    --commit) commit=$2 ;;
    --out) out=$2 ;;
    *)
        echo "usage: deb.sh --binary FILE --doc DIR [--version V] [--commit C] [--out DIR]" >&2
        exit 2
        ;;
    esac
    shift 2
done
if [ -z "$binary" ] || [ -z "$doc" ]; then
    echo "usage: deb.sh --binary FILE --doc DIR [--version V] [--commit C] [--out DIR]" >&2
    exit 2
fi
[ -n "$version" ] || version=$(sh "$root/scripts/version.sh" version)
arch=$(dpkg --print-architecture)
maintainer=${DEB_MAINTAINER:-"silo maintainers <maintainers@silo.example.org>"}
# The changelog's date: the commit's, so that a rebuild gives the same bytes.
epoch=$(sh "$root/scripts/version.sh" date)
[ -n "$commit" ] || commit=$(sh "$root/scripts/version.sh" commit)

work=$(mktemp -d "${TMPDIR:-/tmp}/silo-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
stage="$work/silo"
mkdir -p "$stage/DEBIAN"

make -s -C "$root" install-files DESTDIR="$stage" PREFIX=/usr SILO_BIN="$(realpath "$binary")" \
    SILO_DOC="$(realpath "$doc")"

strip --strip-unneeded --remove-section=.comment --remove-section=.note "$stage/usr/bin/silo"
gzip -9n "$stage/usr/share/man/man1/silo.1"

docdir="$stage/usr/share/doc/silo"
install -d "$docdir"
install -m 0644 "$here/copyright" "$docdir/copyright"
{
    printf 'silo (%s) unstable; urgency=medium\n\n' "$version"
    printf '  * Release %s, built from commit %s.\n\n' "$version" "$commit"
    printf ' -- %s  %s\n' "$maintainer" "$(LC_ALL=C date -u -R -d "@$epoch")"
} >"$work/changelog"
gzip -9n -c "$work/changelog" >"$docdir/changelog.gz"
chmod 0644 "$docdir/changelog.gz"

# dpkg-shlibdeps reads the package list of a debian/control in its working
# directory; a minimal one is enough.
mkdir -p "$work/src/debian"
printf 'Source: silo\n\nPackage: silo\nArchitecture: any\n' >"$work/src/debian/control"
shlibs=$(cd "$work/src" && dpkg-shlibdeps -O -e"$stage/usr/bin/silo" 2>"$work/shlibdeps.log" |
    sed -n 's/^shlibs:Depends=//p')
if [ -z "$shlibs" ]; then
    echo "deb.sh: dpkg-shlibdeps found no dependencies:" >&2
    cat "$work/shlibdeps.log" >&2
    exit 1
fi

size=$(du -k -s --apparent-size "$stage" | cut -f1)
sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@MAINTAINER@|$maintainer|" \
    -e "s|@SHLIBS@|$shlibs|" -e "s|@SIZE@|$size|" "$here/control.in" >"$stage/DEBIAN/control"
for script in postinst prerm postrm; do
    install -m 0755 "$here/$script" "$stage/DEBIAN/$script"
done
echo /etc/silo/silo.conf >"$stage/DEBIAN/conffiles"
(cd "$stage" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -print | sed 's|^\./||' |
    LC_ALL=C sort | xargs md5sum) >"$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/conffiles" "$stage/DEBIAN/md5sums"

mkdir -p "$out"
deb="$out/silo_${version}_${arch}.deb"
SOURCE_DATE_EPOCH=$epoch dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
