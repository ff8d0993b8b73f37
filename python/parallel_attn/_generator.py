"""The dropout generator state of a call (SPEC section 4).

A call takes `generator`: None (the module's default_generator), a (seed, offset) pair, which is
used as given and not advanced, or any object with integer `seed` and `offset` attributes, such
as Generator, whose offset the call advances by B * Hq * 32 when p_dropout > 0.
"""


class Generator:
    """A generator state that calls advance: Generator(seed, offset)."""

    def __init__(self, seed=0, offset=0):
        self.seed, self.offset = int(seed), int(offset)

    def __repr__(self):
        return "Generator(seed=%d, offset=%d)" % (self.seed, self.offset)


default_generator = Generator()


def state_of(generator):
    """(seed, offset) of a generator argument, each an unsigned 64-bit integer."""
    if generator is None:
        generator = default_generator
    if isinstance(generator, (tuple, list)):
        if len(generator) != 2:
            raise ValueError("generator = %r: expected (seed, offset)" % (generator,))
        seed, offset = generator
    else:
        seed, offset = generator.seed, generator.offset
    seed, offset = int(seed), int(offset)
    for name, value in (("seed", seed), ("offset", offset)):
        if not 0 <= value < 2 ** 64:
            raise ValueError("generator %s = %d: expected an unsigned 64-bit integer" % (name, value))
    return seed, offset


def advance(generator, new_offset):
    """Moves a generator object (not a pair) to the offset the call left behind."""
    if generator is None:
        generator = default_generator
    if not isinstance(generator, (tuple, list)):
        generator.offset = int(new_offset)
