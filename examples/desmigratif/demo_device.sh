#!/usr/bin/env bash
# The device side of the Desmigratif demo: a field officer's phone, offline,
# registering a migrant household. Every write waits in the replica's outbox
# for the next sync, whether it came through Lumbung or through plain SQL.
#
# Usage: demo_device.sh PATH/TO/lumbung
# Needs the sqlite3 shell, and the default (SQLite) build: a SQLCipher replica
# is encrypted, so the plain sqlite3 shell cannot open it.
set -euo pipefail

if [[ $# -ne 1 || ! -x $1 ]]; then
  echo "usage: $0 PATH/TO/lumbung" >&2
  exit 2
fi
lumbung=$1
command -v sqlite3 >/dev/null || { echo "$0: needs the sqlite3 shell (apt-get install sqlite3)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
db=$work/sukamaju.db
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
officer=sri.wahyuni

say() { printf '\n%s\n' "$*"; }
# Inserts a row under a new UUIDv7 and prints the id.
put_new() { "$lumbung" put --db "$db" "$@" "created_by=$officer" "created_at=$now"; }

say "Officer Sri Wahyuni's phone gets a fresh replica with the built-in Desmigratif schema."
"$lumbung" init --db "$db" --server https://lumbung.kemnaker.example/ --token demo-device-token
echo "  $db"

# In the field the village row is reference data written by the server and
# pulled at bootstrap. This demo has no server yet, so it writes the row
# itself; its id is fixed because village_id must equal it.
village=0190f1c2-7a00-7000-8000-000000000001
say "The village row (normally sent by the server): Desa Sukamaju, Kec. Juntinyuat, Kab. Indramayu."
"$lumbung" put --db "$db" village "$village" "village_id=$village" kode_wilayah=3212140007 \
  name=Sukamaju kecamatan=Juntinyuat kabupaten=Indramayu provinsi='Jawa Barat' \
  cohort_year=2017 service_post_address='Balai Desa Sukamaju, Jl. Raya Juntinyuat No. 4' >/dev/null

say "Offline, with no signal at Blok Karang, Officer Sri registers the household of Tarsono (KK 3212141203050017)."
household=$(put_new household new "village_id=$village" no_kk=3212141203050017 head_name=Tarsono \
  dusun='Blok Karang' rt=003 rw=002 latitude=-6.4312 longitude=108.4417 phone=+6281324567801 \
  remittance_use=BANGUN_RUMAH)
echo "  household $household"

say "She registers its four members:"
# Registers one member of the household; its id lands in $person.
member() {
  local label=$1
  shift
  person=$(put_new person new "village_id=$village" "household_id=$household" "$@")
  printf '  %-62s person %s\n' "$label" "$person"
}
member "Tarsono, kepala keluarga, back from a Malaysian plantation" \
  nik=3212140507780003 full_name=Tarsono sex=L birth_date=1978-07-05 birth_place=Indramayu \
  relation=KEPALA marital_status=KAWIN education=SD migrant_status=PURNA
member "Darsih, istri" \
  nik=3212145203820001 full_name=Darsih sex=P birth_date=1982-03-12 birth_place=Indramayu \
  relation=ISTRI marital_status=KAWIN education=SMP phone=+6285712340022
member "Rina Wulandari, daughter, CALON PMI (caregiver, Taiwan)" \
  nik=3212145409010002 full_name='Rina Wulandari' sex=P birth_date=2001-09-14 birth_place=Indramayu \
  relation=ANAK marital_status=BELUM_KAWIN education=SMA migrant_status=CALON \
  skills='merawat lansia' family_consent=1 phone=+6281910002345
rina=$person
member "Dimas Saputra, son, in SMP" \
  nik=3212142001130001 full_name='Dimas Saputra' sex=L birth_date=2013-01-20 birth_place=Indramayu \
  relation=ANAK marital_status=BELUM_KAWIN school_level=SMP school_status=SEKOLAH

# An app keeps using its own SQLite connection and plain SQL; the replica's
# triggers capture these writes too, in the same transaction.
update="UPDATE person SET phone = '+886912345678', migrant_status = 'AKTIF' WHERE id = '$rina'"
say "Rina leaves for Taiwan. The officer's app records her new WhatsApp number and status with plain SQL, on its own connection:"
echo "  sqlite3> $update"
sqlite3 "$db" "$update;"

say "Still no signal. What waits in the outbox for the next sync, in plain words:"
"$lumbung" pending --db "$db" | sed 's/^/  /'

say "The phone's sync status:"
"$lumbung" status --db "$db" | sed 's/^/  /'

say "Nothing is lost while offline: every write above is stamped and kept until the server acknowledges it."
