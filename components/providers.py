"""The explicit AWS providers: every AWS resource is created through one of them.

Their `default_tags` put the required tags (project, environment, owner, managed-by) on every
taggable resource, so no component repeats them. Components receive a provider through
`ResourceOptions(providers=[...])` and their children inherit it.
"""

from dataclasses import dataclass

import pulumi_aws

from config.stack import StackSettings

US_EAST_1 = "us-east-1"


@dataclass(frozen=True)
class Providers:
    aws: pulumi_aws.Provider
    """Provider for the stack's region."""
    aws_us_east_1: pulumi_aws.Provider
    """Provider for us-east-1, where Route 53 health-check metrics (and their alarms) live."""


def create_providers(settings: StackSettings) -> Providers:
    """One provider per region the program uses, both carrying the same default tags."""

    def provider(name: str, region: str) -> pulumi_aws.Provider:
        return pulumi_aws.Provider(
            name,
            region=region,
            default_tags=pulumi_aws.ProviderDefaultTagsArgs(tags=settings.tags),
        )

    return Providers(
        aws=provider("aws", settings.identity.aws_region),
        aws_us_east_1=provider("aws-us-east-1", US_EAST_1),
    )
