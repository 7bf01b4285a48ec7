"""``silicio certificate issue|revoke|verify``, ``silicio verify`` and ``silicio keys generate|list``.
Parses arguments, calls :mod:`silicio.origin`, prints."""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from silicio import datadir

from .errors import existing_file, fail, needs, reported_errors
from .options import DataDir
from .render import console

keys_app = typer.Typer(help="The Ed25519 keys that sign certificates, and the keyring of retired ones.",
                       no_args_is_help=True)  # fmt: skip
app = typer.Typer(help="Certificates of conformance and origin: issue, revoke, verify.", no_args_is_help=True)

PublicKeyOption = Annotated[
    Path | None,
    typer.Option("--public-key", "--keyring", metavar="FILE",
                 help="The issuer's keyring.json or Ed25519 public key (default: DATA/keys/keyring.json).",
                 show_default=False),
]  # fmt: skip
RevocationsOption = Annotated[
    Path | None,
    typer.Option("--revocations", metavar="FILE",
                 help="The issuer's signed revocation list (default: DATA/keys/revocations.json when "
                      "no --public-key is given).", show_default=False),
]  # fmt: skip
ActorOption = Annotated[
    str | None,
    typer.Option("--actor", help="Who does it, for the audit log (default: the login name).", show_default=False),
]  # fmt: skip


def _actor(actor: str | None) -> str:
    return actor or f"cli:{getpass.getuser()}"


def _passphrase(key_path: Path) -> str | None:
    """The signing key's passphrase: $SILICIO_KEY_PASSPHRASE, else asked for (an encrypted key only)."""
    from silicio.origin.keyring import PASSPHRASE_ENV, is_encrypted

    if not is_encrypted(key_path):
        return None
    if os.environ.get(PASSPHRASE_ENV):
        return os.environ[PASSPHRASE_ENV]
    return typer.prompt("passphrase of the signing key", hide_input=True)


def _signing_key(data: Path | None):
    from silicio.origin import CertificateError, load_private_key

    path = datadir.DataDir.at(data).private_key
    if not path.exists():
        raise fail(f"{path}: no signing key; run `silicio keys generate` first")
    try:
        return load_private_key(path, _passphrase(path))
    except CertificateError as exc:
        raise fail(str(exc)) from None


# -- verify


def verify_command(
    cert: Annotated[Path, typer.Argument(metavar="CERT.json", help="A certificate document (JSON).")],
    public_key: PublicKeyOption = None,
    revocations: RevocationsOption = None,
    data: DataDir = None,
) -> None:
    """Check a certificate offline: signature, key, content, validity, revocation (exit 1 if not).

    Reads the keyring and revocation list of DATA/keys, or those given."""
    existing_file(cert)
    needs("lake", "silicio verify")
    from silicio.origin import CertificateError, Keyring, load_revocations, verify_bytes

    paths = datadir.DataDir.at(data)
    with reported_errors():
        try:
            if public_key is not None:
                ring = Keyring.read(existing_file(public_key))
            elif paths.keyring.exists() or paths.public_key.exists():
                ring = Keyring.load(paths.keys)
            else:
                raise fail(f"{paths.keys}: no keyring or public key; pass --public-key FILE (the issuer's)")
            if revocations is None and public_key is None:
                revocations = paths.revocations if paths.revocations.exists() else None
            rl = load_revocations(existing_file(revocations), ring) if revocations is not None else None
        except CertificateError as exc:
            raise fail(str(exc)) from None
        result = verify_bytes(cert.read_bytes(), ring, revocations=rl, source=str(cert))
    if result.ok:
        ok = f"[green]OK[/green] {escape(result.cert_id)}: signed by key {result.key_id}"
        console.print(ok, highlight=False, soft_wrap=True)
    else:
        console.print(f"[bold red]FAILED[/bold red] {escape(result.cert_id)}", soft_wrap=True)
        for p in result.problems:
            console.print(f"  - {escape(p)}", soft_wrap=True, highlight=False)
    for note in result.notes:
        console.print(f"  note: {escape(note)}", soft_wrap=True, highlight=False)
    if not result.ok:
        raise typer.Exit(1)


app.command(name="verify")(verify_command)


# -- keys


@keys_app.command("generate")
def keys_generate(
    data: DataDir = None,
    force: Annotated[
        bool, typer.Option("--force", help="Rotate: a new key pair; the old public key stays in the keyring.")
    ] = False,
    encrypt: Annotated[
        bool,
        typer.Option(
            "--encrypt",
            help="Encrypt the private key with a passphrase ($SILICIO_KEY_PASSPHRASE or asked for).",
        ),
    ] = False,  # fmt: skip
) -> None:
    """Write a new Ed25519 signing key (mode 0600) into DATA/keys/ and add it to the keyring.

    With --force the current key is retired, not forgotten: its certificates keep verifying."""
    needs("lake", "silicio keys generate")
    from silicio.origin import CertificateError, generate_keys
    from silicio.origin.keyring import PASSPHRASE_ENV

    passphrase = None
    if encrypt:
        passphrase = os.environ.get(PASSPHRASE_ENV) or typer.prompt(
            "passphrase for the new signing key", hide_input=True, confirmation_prompt=True
        )
    directory = datadir.DataDir.at(data).keys
    with reported_errors():
        try:
            private, public = generate_keys(directory, overwrite=force, passphrase=passphrase)
        except CertificateError as exc:
            raise fail(str(exc)) from None
    state = "encrypted" if encrypt else "NOT encrypted: keep it off shared disks, or use --encrypt"
    console.print(f"wrote {escape(str(private))} (private, {state}) and {escape(str(public))} (public); "
                  f"keyring {escape(str(directory / datadir.KEYRING_FILE))}", soft_wrap=True, highlight=False)  # fmt: skip


@keys_app.command("list")
def keys_list(data: DataDir = None) -> None:
    """The keyring: every key id, when it was made and retired."""
    needs("lake", "silicio keys list")
    from silicio.origin import CertificateError, Keyring

    with reported_errors():
        try:
            ring = Keyring.load(datadir.DataDir.at(data).keys)
        except CertificateError as exc:
            raise fail(str(exc)) from None
    if not len(ring):
        console.print("no keys; run `silicio keys generate`", soft_wrap=True)
    for e in ring.entries.values():
        state = f"retired {e.retired_at}" if e.retired_at else "current"
        console.print(f"{e.key_id}  made {e.created_at or '?'}  {state}", highlight=False, soft_wrap=True)


# -- issue and revoke


def _json_file(path: Path) -> dict:
    from silicio.origin.schema import CertificateError, parse_json

    existing_file(path)
    try:
        value = parse_json(path.read_bytes(), str(path))
    except CertificateError as exc:
        raise fail(str(exc)) from None
    if not isinstance(value, dict):
        raise fail(f"{path}: expected a JSON object")
    return value


def _fields(value: dict, path: Path, allowed: tuple[str, ...], required: tuple[str, ...]) -> None:
    unknown = sorted(set(value) - set(allowed))
    missing = [k for k in required if k not in value]
    if unknown or missing:
        raise fail(f"{path}: " + "; ".join(
            ([f"unknown field(s) {', '.join(unknown)}"] if unknown else [])
            + ([f"missing field(s) {', '.join(missing)}"] if missing else [])) + f" (expected {', '.join(allowed)})")  # fmt: skip


ORIGIN_FIELDS = ("issuer", "certifier_role", "certifier", "exporter", "producer", "importer", "description",
                 "signer")  # fmt: skip
CONFORMANCE_FIELDS = ("issuer", "lot", "part_number", "revision", "quantity", "test_summary", "pat_status",
                      "spc_status", "standards", "shipment")  # fmt: skip


@app.command("issue")
def issue_command(
    kind: Annotated[str, typer.Argument(metavar="origin|conformance", help="Which certificate.")],
    fields: Annotated[Path, typer.Option("--fields", metavar="FILE.json", help=(
        "origin: issuer, certifier_role, certifier, exporter, producer, importer (each name, address, "
        "telephone, email), description, signer {name, title}; conformance: issuer, lot, part_number, "
        "revision, quantity, test_summary, pat_status, spc_status, standards, shipment."))],
    part: Annotated[str | None, typer.Option("--part", help="origin: the part number in the master data.")] = None,
    blanket_from: Annotated[str | None, typer.Option("--blanket-from", metavar="YYYY-MM-DD",
                                                     help="origin: first day of a blanket period.")] = None,
    blanket_to: Annotated[str | None, typer.Option("--blanket-to", metavar="YYYY-MM-DD",
                                                   help="origin: last day (at most 12 months).")] = None,
    valid_until: Annotated[str | None, typer.Option("--valid-until", metavar="YYYY-MM-DD",
                                                    help="Default: 4 years (origin), 10 years (conformance).")] = None,
    base_url: Annotated[str | None, typer.Option("--verify-base-url", metavar="URL", envvar="SILICIO_VERIFY_BASE_URL",
                                                 help="Public https address of the verify page.")] = None,
    out: Annotated[Path | None, typer.Option("--out", metavar="CERT.json", help="Also write the document here.")] = None,
    pdf: Annotated[Path | None, typer.Option("--pdf", metavar="CERT.pdf", help="Also write it as a PDF.")] = None,
    actor: ActorOption = None,
    data: DataDir = None,
) -> None:  # fmt: skip
    """Issue a signed certificate, kept in the store and anchored in its audit log.

    Refused, with every reason, when a field breaks the schema (dates, blanket period, parties,
    HS code, figures)."""
    import json

    if kind not in ("origin", "conformance"):
        raise fail(f"{kind!r}: expected origin or conformance")
    needs("lake", "silicio certificate issue")
    from silicio import origin
    from silicio.origin import CertificateError, OriginError
    from silicio.trace.model import MasterDataError
    from silicio.trace.store import TraceStore

    values = _json_file(fields)
    data_dir = datadir.DataDir.at(data)
    if not data_dir.root.is_dir():
        raise fail(f"{data_dir.root}: no such data directory")
    key = _signing_key(data)
    with reported_errors(), TraceStore.at(data_dir.root) as store:
        try:
            if kind == "origin":
                _fields(values, fields, ORIGIN_FIELDS, ORIGIN_FIELDS)
                if not part:
                    raise fail("an origin certificate needs --part PART_NUMBER")
                if (blanket_from is None) != (blanket_to is None):
                    raise fail("give both --blanket-from and --blanket-to, or neither (a single shipment)")
                md = store.load_master_data()
                products = [p for p in md.products.values() if p.part_number == part]
                if not products:
                    known = ", ".join(sorted({p.part_number for p in md.products.values()}))
                    raise fail(f"no product {part!r} in the master data; products: {known or 'none'}")
                report = origin.origin_report(products[-1], md.sites)
                parties = {k: values[k] for k in ORIGIN_FIELDS if k not in ("issuer", "signer")}
                blanket = {"from": blanket_from, "to": blanket_to} if blanket_from else None
                content = origin.origin_content(report=report, parties=parties, blanket_period=blanket,
                                                signer=values["signer"], issuer=values["issuer"], base_url=base_url,
                                                valid_until=valid_until)  # fmt: skip
            else:
                _fields(values, fields, CONFORMANCE_FIELDS, CONFORMANCE_FIELDS[:-1])
                content = origin.conformance_content(**values, base_url=base_url, valid_until=valid_until)
            document = origin.issue(store, content, key, actor=_actor(actor))
        except (CertificateError, OriginError, MasterDataError) as exc:
            raise fail(str(exc)) from None
    if out is not None:
        out.write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
    if pdf is not None:
        needs("pdf", "silicio certificate issue --pdf")
        origin.render_pdf(document, pdf)
    c = document["certificate"]
    console.print(f"issued {c['id']} ({c['type']}, {escape(c['subject'])}), valid until {c['valid_until']}, "
                  f"key {document['signature']['key_id']}", highlight=False, soft_wrap=True)  # fmt: skip
    console.print(f"verify at {escape(c['verify_url'])}", highlight=False, soft_wrap=True)
    for caveat in c["caveats"]:
        console.print(f"[yellow]caveat:[/yellow] {escape(caveat)}", soft_wrap=True, highlight=False)


@app.command("revoke")
def revoke_command(
    cert_id: Annotated[str, typer.Argument(metavar="CERT_ID", help="e.g. COO-0123456789ABCDEF")],
    reason: Annotated[str, typer.Option("--reason", help="Why; shown to whoever verifies it.")],
    issuer: Annotated[str, typer.Option("--issuer", help="Who revokes, as the list names it.")] = "silicio",
    data: DataDir = None,
) -> None:
    """Revoke a certificate: it fails verification from now on, with this reason.

    The signed revocation list is DATA/keys/revocations.json."""
    needs("lake", "silicio certificate revoke")
    from silicio.origin import CertificateError, Keyring, revoke
    from silicio.trace.store import TraceStore

    paths = datadir.DataDir.at(data)
    if not paths.root.is_dir():
        raise fail(f"{paths.root}: no such data directory")
    key = _signing_key(data)
    with reported_errors():
        with TraceStore.at(paths.root) as store:
            try:
                store.certificate(cert_id)
            except KeyError:
                raise fail(f"no certificate {cert_id!r} in the store") from None
        try:
            rl = revoke(paths.revocations, cert_id, reason, key, Keyring.load(paths.keys), issuer)
        except CertificateError as exc:
            raise fail(str(exc)) from None
    console.print(f"revoked {escape(cert_id)} (revocation list #{rl.sequence}, {len(rl.entries)} revoked, "
                  f"signed by key {rl.key_id})", highlight=False, soft_wrap=True)  # fmt: skip
