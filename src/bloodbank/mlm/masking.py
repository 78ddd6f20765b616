"""BERT's masking: 15% of the real tokens, of which 80% [MASK], 10% random, 10% kept.

Special tokens and padding are never masked. Random replacements are drawn
from the ordinary vocabulary (never a special token). Everything is driven by
an explicit ``torch.Generator``, so a mask is a pure function of its seed: the
evaluation masks of a test set are identical for every model scored on it.
"""

from __future__ import annotations

import torch

from bloodbank.core.seeding import seed_of

IGNORE = -100


def mask_tokens(
    input_ids: torch.Tensor,
    maskable: torch.Tensor,
    gen: torch.Generator,
    *,
    mask_id: int,
    n_special: int,
    vocab_size: int,
    probability: float = 0.15,
    mask_fraction: float = 0.8,
    random_fraction: float = 0.1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(inputs, labels)``; labels are ``IGNORE`` except at masked positions.

    ``maskable`` marks real (non-special, non-padding) tokens. Ordinary ids are
    ``n_special .. vocab_size-1``.
    """
    chosen = (torch.rand(input_ids.shape, generator=gen) < probability) & maskable
    return replace_chosen(
        input_ids,
        chosen,
        gen,
        mask_id=mask_id,
        n_special=n_special,
        vocab_size=vocab_size,
        mask_fraction=mask_fraction,
        random_fraction=random_fraction,
    )


def replace_chosen(
    input_ids: torch.Tensor,
    chosen: torch.Tensor,
    gen: torch.Generator,
    *,
    mask_id: int,
    n_special: int,
    vocab_size: int,
    mask_fraction: float = 0.8,
    random_fraction: float = 0.1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's replacement of the ``chosen`` positions: ``(inputs, labels)``."""
    shape = input_ids.shape
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, IGNORE))
    roll = torch.rand(shape, generator=gen)
    to_mask = chosen & (roll < mask_fraction)
    to_random = chosen & (roll >= mask_fraction) & (roll < mask_fraction + random_fraction)
    random_ids = torch.randint(n_special, vocab_size, shape, generator=gen, dtype=input_ids.dtype)
    inputs = torch.where(to_mask, torch.full_like(input_ids, mask_id), input_ids)
    inputs = torch.where(to_random, random_ids, inputs)
    return inputs, labels


def partition(maskable: torch.Tensor, gen: torch.Generator, groups: int) -> torch.Tensor:
    """Deal the maskable positions of one row, in a random order, to ``groups`` groups in
    turn: each position's group (-1 where not maskable). Every position is in exactly one
    group, and the groups' sizes differ by at most one."""
    where = maskable[0].nonzero().flatten()
    order = where[torch.randperm(len(where), generator=gen)]
    group = torch.full(maskable.shape, -1, dtype=torch.int64)
    group[0, order] = torch.arange(len(order)) % groups
    return group


def generator(*keys: int | str) -> torch.Generator:
    """A CPU generator seeded from a tuple of keys."""
    gen = torch.Generator()
    gen.manual_seed(seed_of(*keys))
    return gen
