import factory
from django.contrib.auth import get_user_model

from subscriptions.models import (
    Contact,
    Keyword,
    KeywordKind,
    ProviderAccount,
    ProviderKind,
    ShortCode,
)


class ProviderAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProviderAccount

    name = factory.Sequence(lambda n: f"Account {n}")
    kind = ProviderKind.CONSOLE


class ShortCodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ShortCode

    code = factory.Sequence(lambda n: f"{20000 + n}")
    name = factory.Sequence(lambda n: f"Program line {n}")
    brand = "Acme"
    provider = factory.SubFactory(ProviderAccountFactory)


class KeywordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Keyword

    short_code = factory.SubFactory(ShortCodeFactory)
    word = factory.Sequence(lambda n: f"PROG{n}")
    kind = KeywordKind.PROGRAM
    title = factory.LazyAttribute(lambda k: f"{k.word.title()} texts")
    double_opt_in = False


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    phone = factory.Sequence(lambda n: f"+1555{2000000 + n:07d}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("pw-for-tests")
