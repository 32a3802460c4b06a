"""The site's ACM certificate, validated by DNS records the program writes into Cloudflare."""

import functools
from collections.abc import Sequence

import pulumi
import pulumi_aws as aws
import pulumi_cloudflare as cloudflare


def _validation_option(
    options: Sequence[aws.acm.outputs.CertificateDomainValidationOption], domain: str
) -> aws.acm.outputs.CertificateDomainValidationOption:
    return next(option for option in options if option.domain_name == domain)


def validated_certificate(
    name: str,
    *,
    site_hostname: str,
    zone_id: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> pulumi.Output[str]:
    """ACM certificate for the site; its ARN once the Cloudflare CNAME records validate it."""
    certificate = aws.acm.Certificate(
        f"{name}-certificate", domain_name=site_hostname, validation_method="DNS", opts=opts
    )
    # One validation option per certificate domain. The domains are known now, so the loop
    # runs over them (resources are never created inside apply, where previews miss them).
    fqdns = []
    for index, domain in enumerate([site_hostname]):
        option = certificate.domain_validation_options.apply(
            functools.partial(_validation_option, domain=domain)
        )
        record = cloudflare.DnsRecord(
            f"{name}-certificate-validation-{index}",
            zone_id=zone_id,
            name=option.apply(lambda o: (o.resource_record_name or "").rstrip(".")),
            type=option.apply(lambda o: o.resource_record_type or "CNAME"),
            content=option.apply(lambda o: (o.resource_record_value or "").rstrip(".")),
            ttl=60,
            # ACM must see the record itself, not a Cloudflare proxy address.
            proxied=False,
            comment=f"ACM validation for {domain}",
            opts=opts,
        )
        fqdns.append(record.name)
    validation = aws.acm.CertificateValidation(
        f"{name}-certificate-validation",
        certificate_arn=certificate.arn,
        validation_record_fqdns=fqdns,
        opts=opts,
    )
    return validation.certificate_arn
