"""Schemathesis hooks for scripts/schemathesis.sh.

The OpenAPI document states every rule of a request that JSON Schema can express. A few rules
of the contract it can only state in words, and a request that breaks one of them is valid to
JSON Schema yet refused by the server with a 400 and a sentence naming the rule:

- a branch or product must exist: which ones do is the catalog's data, not the document's;
- a new API key's branch goes with its role: a till needs one, an analyst or an admin takes
  none (JSON Schema could say so only by repeating the body once per role);
- no `product_id` twice in `items`: `uniqueItems` compares whole items, and two items may differ
  in a field the server ignores or in a null `quantity`;
- a series of sales over time of at most 8784 periods, which depends on its granularity and on
  the span of its two dates, and a business day the branch's clocks did not skip;
- `from` before `to`, `from_date` not after `to_date`, and business dates (`date`, `from_date`,
  `to_date`) not mixed with instants (`from`, `to`) nor `date` with a range: JSON Schema
  compares no two parameters;
- the body limit: JSON Schema counts items and characters, not bytes, so a body of up to 1,000
  items with fields the server ignores can be valid and still larger than the limit (413);
- a product must be on sale at the sale time, and a sale time within the offline window (a few
  minutes ahead of the server's clock, a week behind): both depend on the catalog's data and
  the server's clock; a price may not take effect before its product was added;
- a product's name is unique among the products on sale, and a retired product's prices do
  not change (409s: the catalog's data again);
- a whole number written without a fraction: JSON Schema 2020-12 counts `2.0` as the integer 2,
  and Schemathesis sends such numbers on purpose, but the server reads integers as JavaScript
  clients write them (`2`), and tests/it/hostile.rs holds that it refuses `2.0`.

The check below is Schemathesis's `positive_data_acceptance` (which the script excludes in its
place), with one allowance: a 400 or 413 whose sentence names one of these rules.
"""

import re

import schemathesis
from schemathesis.core.failures import AcceptedNegativeData
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

# The server's sentences for the rules above (icash-core's ValidationError, serde's type error).
RULES_IN_WORDS = re.compile(
    r"^(supermarket|product) \d+ does not exist$"
    r"|^product \d+ appears more than once in items"
    r"|^the period is empty: `from` must be before `to`$"
    r"|^the dates are empty: `to_date` must not be before `from_date`$"
    r"|^the series would have \d+ \w+s, more than the \d+ it may have"
    r"|^branch \d+ had no business day on these dates"
    r"|^supermarket \d+ was not found$"
    r"|^`date`, `from_date` and `to_date` name business days, and `from` and `to` instants"
    r"|^`date` is one business day: give it alone"
    r"|^field `(purchases\[\d+\]\.)?(supermarket_id|items\[\d+\]\.(product_id|quantity))` is not valid: "
    r"invalid type: floating point `[^`]+`"
    r"|^the request body is larger than the limit of \d+ bytes$"
    r"|^a till key needs a branch$"
    r"|^a key of role \w+ covers every branch and takes none$"
    r"|^product \d+ was (retired at|not in the catalog yet at) "
    r"|^purchased_at \S+ is (in the future|older than the \d+ days)"
    r"|^effective_from \S+ is before product \d+ was added"
    r"|^a product named .* is already on sale"
    r"|^product \d+ was retired at \S+: its prices can no longer change$"
)


def refused_for_a_rule_in_words(response) -> bool:
    """Whether the response is a 400, 404, 409 or 413 whose sentence names a rule the document states in words."""
    if response.status_code not in (400, 404, 409, 413):
        return False
    try:
        sentence = response.json().get("error", "")
    except (ValueError, AttributeError):
        return False
    if not isinstance(sentence, str):
        return False
    # A batch names the purchase a rule refuses before the rule's own sentence.
    sentence = BATCH_PURCHASE.sub("", sentence, count=1)
    return RULES_IN_WORDS.search(sentence) is not None


# How a batch's refusal names its purchase: "purchases[3] is not valid: <the rule's sentence>".
BATCH_PURCHASE = re.compile(r"^purchases\[\d+\] is not valid: ")

# The server's sentence for a body over its limit (a 413).
TOO_LARGE = re.compile(r"^the request body is larger than the limit of \d+ bytes$")


def refused_as_too_large(response) -> bool:
    """Whether the response is the server's 413 for a body over its limit."""
    if response.status_code != 413:
        return False
    try:
        sentence = response.json().get("error", "")
    except (ValueError, AttributeError):
        return False
    return isinstance(sentence, str) and TOO_LARGE.search(sentence) is not None


@schemathesis.check
def positive_data_acceptance_beyond_json_schema(ctx, response, case):
    """Valid data is accepted, unless it breaks a rule the document can only state in words."""
    try:
        return positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        if refused_for_a_rule_in_words(response):
            return None
        raise


@schemathesis.check
def negative_data_rejection_or_too_large(ctx, response, case):
    """Invalid data is refused; a body too large to read is refused with 413, which names the
    problem as well as a 400 would (Schemathesis's list of refusals leaves 413 out)."""
    try:
        return negative_data_rejection(ctx, response, case)
    except AcceptedNegativeData:
        if refused_as_too_large(response):
            return None
        raise
