#!/bin/bash
# mkpki.sh DIR: the test PKI, made with the openssl CLI.
#   root.crt/key     test root (trust anchor for CMP and TLS)
#   ca.crt/key       issuing CA (signs certificates, CRLs, CMP responses)
#   tls.crt/key      nginx's server certificate for ca.test (by the root)
#   tls2.crt/key     the second front's certificate, for ca2.test (failover)
#   other.crt/key    a root-issued server certificate for the wrong name
#   rogue.crt/key    a self-signed ca.test certificate nobody trusts
#   admin.crt/key    the CA operator (central revocations, by the issuing CA)
set -eu
d=$1
mkdir -p "$d"
cd "$d"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
cat >ext.cnf <<'X'
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[tls]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:ca.test
[tls2]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:ca2.test
[admin]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
[other]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:other.test
X
key root.key
openssl req -new -x509 -key root.key -subj "/O=Test/CN=Test Root CA" -days 3650 \
    -addext "keyUsage=critical,keyCertSign,cRLSign" -out root.crt
key ca.key
openssl req -new -key ca.key -subj "/O=Test/CN=Test Issuing CA" -out ca.csr
openssl x509 -req -in ca.csr -CA root.crt -CAkey root.key -set_serial 2 -days 3650 \
    -extfile ext.cnf -extensions ca -out ca.crt 2>/dev/null
for n in tls tls2 other; do
	key $n.key
	openssl req -new -key $n.key -subj "/O=Test/CN=$n" -out $n.csr
	openssl x509 -req -in $n.csr -CA root.crt -CAkey root.key -set_serial 0x$RANDOM \
	    -days 30 -extfile ext.cnf -extensions $n -out $n.crt 2>/dev/null
done
# The CA operator's own RA certificate, for revocations made centrally.
key admin.key
openssl req -new -key admin.key -subj "/O=Test/CN=CA Operator" -out admin.csr
openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -set_serial 0x$RANDOM \
    -days 30 -extfile ext.cnf -extensions admin -out admin.crt 2>/dev/null
key rogue.key
openssl req -new -x509 -key rogue.key -subj "/O=Test/CN=ca.test" -days 30 \
    -addext "subjectAltName=DNS:ca.test" -out rogue.crt
cat ca.crt root.crt >chain.pem
