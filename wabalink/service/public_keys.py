"""The business public key of a linked phone number (encrypting Flows data exchange): a PEM
2048-bit RSA key given directly or read from a customer managed KMS key, put at Meta.

Signature status: Meta's own (VALID, or MISMATCH once the number was registered again since the
key was signed), and MISMATCH too when the key Meta holds is not the one this service last put
(it was changed at Meta by other means): the service keeps only that key's fingerprint."""

from __future__ import annotations

import re
from typing import Any

from wabalink.aws.exceptions import DependencyException, InvalidParametersException
from wabalink.aws.shapes import (
    GetWhatsAppBusinessPublicKeyInput,
    GetWhatsAppBusinessPublicKeyOutput,
    PutWhatsAppBusinessPublicKeyInput,
    PutWhatsAppBusinessPublicKeyOutput,
)
from wabalink.meta.public_keys import key_fingerprint, rsa_key_problem
from wabalink.service.meta_linked import linked_phone, meta_refusals
from wabalink.service.operations import Operations, RequestContext, operation
from wabalink.store import business_public_keys

KMS_KEY_ARN = re.compile(r"arn:aws[a-z-]*:kms:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):(key|alias)/.+")
KMS_RSA_SPECS = ("RSA_2048",)


def public_key_from_kms(arn: str, ctx: RequestContext) -> str:
    """The PEM public key of a customer managed RSA_2048 KMS key (ENCRYPT_DECRYPT), read with the
    server's own AWS credentials through botocore (`AWS_ENDPOINT_URL_KMS` points it elsewhere)."""
    import botocore.session
    from botocore.exceptions import BotoCoreError, ClientError
    from cryptography.hazmat.primitives import serialization

    match = KMS_KEY_ARN.fullmatch(arn)
    if match is None or match["account"] != ctx.account_id:
        raise InvalidParametersException(f"kmsKeyArn {arn} must name a KMS key of your own account "
                                         f"({ctx.account_id}).")
    try:
        kms = botocore.session.get_session().create_client("kms", region_name=match["region"])
        answer = kms.get_public_key(KeyId=arn)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("NotFoundException", "AccessDeniedException", "DisabledException", "KMSInvalidStateException",
                    "InvalidArnException", "UnsupportedOperationException"):
            raise InvalidParametersException(f"kmsKeyArn {arn}: KMS answered {code}; give a customer managed "
                                             "asymmetric RSA_2048 key this service may read.") from None
        raise DependencyException(f"KMS answered {code or 'an error'} reading kmsKeyArn; retry the call.") from None
    except BotoCoreError as error:
        raise DependencyException(f"KMS could not be reached to read kmsKeyArn ({type(error).__name__}); "
                                  "retry the call.") from None
    if answer.get("KeySpec") not in KMS_RSA_SPECS or answer.get("KeyUsage") != "ENCRYPT_DECRYPT":
        raise InvalidParametersException(f"kmsKeyArn {arn} is a {answer.get('KeySpec')} key for "
                                         f"{answer.get('KeyUsage')}; an RSA_2048 ENCRYPT_DECRYPT key is required.")
    key = serialization.load_der_public_key(answer["PublicKey"])
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


class PublicKeys(Operations):

    @operation("PutWhatsAppBusinessPublicKey")
    def put_whatsapp_business_public_key(self, ctx: RequestContext, params: PutWhatsAppBusinessPublicKeyInput
                                         ) -> PutWhatsAppBusinessPublicKeyOutput:
        pem, arn = params.get("businessPublicKey"), params.get("kmsKeyArn")
        if (pem is None) == (arn is None):
            raise InvalidParametersException("Give exactly one of businessPublicKey (a PEM 2048-bit RSA public key) "
                                             "and kmsKeyArn.")
        field = "businessPublicKey" if pem is not None else "kmsKeyArn"
        if pem is not None:
            problem = rsa_key_problem(pem)
            if problem is not None:
                raise InvalidParametersException(f"businessPublicKey {problem}.")
        with self.store.reader() as conn:
            phone = linked_phone(conn, ctx, params["originationPhoneNumberId"], "originationPhoneNumberId")
        if arn is not None:
            pem = public_key_from_kms(arn, ctx)
        assert pem is not None
        with meta_refusals(field, not_found=f"originationPhoneNumberId: {params['originationPhoneNumberId']}"):
            self.graph.put_business_public_key(phone["meta_phone_number_id"], pem)
        with self.store.writer() as conn:
            business_public_keys.record_put_key(conn, phone["id"], key_fingerprint(pem), arn, self.clock())
        return {}

    @operation("GetWhatsAppBusinessPublicKey")
    def get_whatsapp_business_public_key(self, ctx: RequestContext, params: GetWhatsAppBusinessPublicKeyInput
                                         ) -> GetWhatsAppBusinessPublicKeyOutput:
        field, origination = "originationPhoneNumberId", params["originationPhoneNumberId"]
        with self.store.reader() as conn:
            phone = linked_phone(conn, ctx, origination, field)
            put: dict[str, Any] | None = business_public_keys.get_put_key(conn, phone["id"])
        with meta_refusals(field, not_found=f"{field}: {origination}"):
            current = self.graph.get_business_public_key(phone["meta_phone_number_id"])
        if current is None:
            return {}  # no key set yet
        pem, meta_status = current
        status = "VALID" if meta_status == "VALID" else "MISMATCH"
        if put is None or rsa_key_problem(pem) is not None or key_fingerprint(pem) != put["key_sha256"]:
            status = "MISMATCH"
        return {"businessPublicKey": pem, "businessPublicKeySignatureStatus": status}
