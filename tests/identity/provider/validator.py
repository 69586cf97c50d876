from oauth2_provider.oauth2_validators import OAuth2Validator

#: Membership in this group is how the test provider marks a verified e-mail.
VERIFIED = "email-verified"
#: Members of this group get no email_verified claim at all (like some enterprise IdPs).
NO_CLAIM = "no-verified-claim"


class Validator(OAuth2Validator):
    # Every claim in the ID token and userinfo, whatever the scope.
    oidc_claim_scope = None

    def get_additional_claims(self, request):
        user = request.user
        groups = sorted(user.groups.values_list("name", flat=True))
        claims = {
            "preferred_username": user.username,
            "given_name": user.first_name,
            "family_name": user.last_name,
            "groups": [g for g in groups if g not in (VERIFIED, NO_CLAIM)],
        }
        if user.email:
            claims["email"] = user.email
            if NO_CLAIM not in groups:
                claims["email_verified"] = VERIFIED in groups
        return claims
