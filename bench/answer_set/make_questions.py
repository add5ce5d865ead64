"""Writes questions.json (run once; kept so the labels are reviewable as code)."""

import json
from pathlib import Path

FAQ, PROSE, TABLE, NONE = "faq", "prose", "table", "none"
Q = [
    # FAQ (DOCX with question headings)
    (FAQ, "Do you sell decaf?", ["Our Decaf Colombia is decaffeinated with the Swiss Water process"]),
    (FAQ, "Can I cancel my order after placing it?", ["You can change or cancel an order until we print its shipping label"]),
    (FAQ, "How fresh is the coffee?", ["leaves the roastery within 48 hours of roasting"]),
    (FAQ, "Is there a subscription, and does it save money?", ["subscribers save 10 percent on every delivery"]),
    (FAQ, "Whole bean or ground, which should I buy?", ["Whole beans stay fresh about twice as long as ground coffee"]),
    (FAQ, "Should I keep my coffee in the refrigerator?", ["Do not put coffee in the refrigerator"]),
    (FAQ, "Are any of your coffees organic?", ["Four of our coffees are certified organic by the USDA"]),
    (FAQ, "Do you ship to Canada?", ["We ship to all 50 US states and to Canada"]),
    (FAQ, "Is there a discount for students?", ["Students get 15 percent off their first three orders"]),
    (FAQ, "When is the roastery open for visits?", ["open for tastings on Saturdays from 9 a.m. to 1 p.m."]),
    (FAQ, "Do gift cards expire?", ["Digital gift cards are available from 25 to 200 dollars and never expire"]),
    (FAQ, "Which grinder should I buy?", ["we recommend a burr grinder"]),
    (FAQ, "Can I recycle the coffee bags?", ["Our bags are made of a single layer of recyclable polyethylene"]),
    (FAQ, "What is the minimum order for a wholesale account?", ["minimum order of 20 pounds per month"]),
    (FAQ, "How long should coffee steep in a French press?", ["Stir, wait four minutes, then press the plunger slowly"]),
    (FAQ, "How much caffeine is in a cup of your coffee?", ["contains roughly 150 to 200 milligrams of caffeine"]),
    (FAQ, "Do you make Nespresso capsules?", ["We do not make pods or capsules"]),
    (FAQ, "What is your customer service phone number?", ["call 207-555-0144"]),
    # Prose: shipping, returns and privacy policy (PDF)
    (PROSE, "How long does shipping take?", ["Standard shipping takes 3 to 5 business days"]),
    (PROSE, "How long does delivery to Canada take?", ["Orders to Canada usually arrive in 7 to 10 business days"]),
    (PROSE, "How much does shipping cost?", ["Shipping is free on orders over 45 dollars"]),
    (PROSE, "Can you deliver express orders to a P.O. box?", ["We cannot deliver to P.O. boxes with express shipping"]),
    (PROSE, "How fast is express shipping?", ["Express shipping delivers in 1 to 2 business days and costs 18 dollars"]),
    (PROSE, "What should I do if my parcel arrives damaged?", ["send us a photo of the box and the bags within 14 days of delivery"]),
    (PROSE, "When is a parcel considered lost?", ["A parcel that has not arrived 10 business days after shipping is treated as lost"]),
    (PROSE, "Can I return an unopened bag of coffee?", ["Unopened bags of coffee can be returned within 30 days of delivery for a full refund"]),
    (PROSE, "Can I return coffee that I already opened?", ["Opened coffee cannot be returned"]),
    (PROSE, "What is the return window for brewing equipment?", ["Brewing equipment can be returned within 60 days"]),
    (PROSE, "How long do refunds take?", ["Refunds are issued to the original payment method within 5 business days"]),
    (PROSE, "Who pays for return shipping?", ["Return shipping is paid by the customer"]),
    (PROSE, "Which payment methods do you accept?", ["We accept Visa, Mastercard, American Express, PayPal and Apple Pay"]),
    (PROSE, "When is my card charged?", ["Cards are charged when the order ships"]),
    (PROSE, "Do you charge sales tax?", ["Sales tax is charged on orders shipped to states that require it"]),
    (PROSE, "Do you store my credit card number?", ["are never stored on our servers"]),
    (PROSE, "Do you sell my personal information?", ["We do not sell or rent personal information to anyone"]),
    (PROSE, "How do I get my account deleted?", ["You can ask us to delete your account and personal data by writing to privacy@harborlane.example"]),
    (PROSE, "What cookies does the website use?", ["Our website uses essential cookies to keep your cart and your login"]),
    (PROSE, "How often do you send the newsletter?", ["We send a newsletter about new coffees at most twice a month"]),
    # Prose: technical documentation (Markdown) with identifiers
    (PROSE, "What is the difference between __new__ and __init__?", ["Python first calls __new__ to create the object and then calls __init__ to initialise it"]),
    (PROSE, "What happens if __init__ returns a value?", ["The __init__ method must return None"]),
    (PROSE, "When is an object considered false?", ["defines a __bool__ method that returns False or a __len__ method that returns zero"]),
    (PROSE, "What does str() return if a class has no __str__ method?", ["str() falls back to __repr__"]),
    (PROSE, "Which method does d[key] call?", ["The expression d[key] calls type(d).__getitem__(d, key)"]),
    (PROSE, "What is __missing__ used for?", ["d[key] calls it for a missing key instead of raising KeyError"]),
    (PROSE, "What does **kwargs collect?", ["A parameter written as **kwargs collects extra keyword arguments into a dict"]),
    (PROSE, "What does *args do in a function definition?", ["A parameter written as *args collects extra positional arguments into a tuple"]),
    (PROSE, "How should variables be named?", ["Function and variable names use lowercase words separated by underscores, such as a_b_c or max_retry_count"]),
    (PROSE, "What is name mangling?", ["are mangled to _ClassName__secret"]),
    (PROSE, "What does an except* clause do?", ["An except* clause matches the exceptions of a group that have the given type"]),
    (PROSE, "Can I mix except and except* in one try statement?", ["A try statement cannot mix except and except* clauses"]),
    (PROSE, "What happens if __exit__ returns true?", ["If __exit__ returns a true value, the exception is suppressed"]),
    (PROSE, "Why would I use __slots__?", ["Slots save memory when millions of small objects are created"]),
    (PROSE, "Why can't I use my objects as dict keys after overriding __eq__?", ["has its __hash__ set to None"]),
    (PROSE, "What does functools.total_ordering do?", ["fills in the missing comparison methods"]),
    (PROSE, "What does __next__ raise when the iterator is exhausted?", ["raises StopIteration when it is exhausted"]),
    (PROSE, "What does the in operator call?", ["The in operator uses __contains__"]),
    # Table: CSV price list
    (TABLE, "How much is the Decaf Colombia?", ["Decaf Colombia", "$14.50"], ["CC-104"]),
    (TABLE, "What does the Kenya AA cost?", ["Kenya AA", "$21.00"], ["CC-105"]),
    (TABLE, "Is the Panama Geisha in stock?", ["Panama Geisha", "In stock: no"], ["CC-113"]),
    (TABLE, "What is the price of the burr grinder?", ["Burr Grinder", "$139.00"], ["EQ-203"]),
    (TABLE, "Which roast is the Sumatra Mandheling?", ["Sumatra Mandheling", "Roast: Dark"], ["CC-106"]),
    (TABLE, "Where does the House Espresso come from?", ["House Espresso", "Brazil and Guatemala"], ["CC-103"]),
    (TABLE, "How much is a bag of French Roast?", ["French Roast", "$42.00"], ["CC-111"]),
    (TABLE, "How much are the paper filters?", ["Paper Filters (100)", "$6.50"], ["EQ-205"]),
    (TABLE, "Do you have the gooseneck kettle in stock?", ["Gooseneck Kettle", "In stock: no"], ["EQ-204"]),
    (TABLE, "What is the SKU of the Guatemala Antigua?", ["Guatemala Antigua", "CC-107"], ["CC-107"]),
    (TABLE, "How much does the Rwanda Nyamasheke cost?", ["Rwanda Nyamasheke", "$20.00"], ["CC-115"]),
    (TABLE, "What is the price of the glass French press?", ["Glass French Press 1 L", "$32.00"], ["EQ-202"]),
    # Out of the knowledge base (near misses first: they share words with the documents)
    (FAQ, "Do you sell tea?", None),
    (FAQ, "Do you have a loyalty points program?", None),
    (FAQ, "Is there a military discount?", None),
    (FAQ, "Do you sell cold brew concentrate?", None),
    (PROSE, "What warranty do you give on grinders?", None),
    (PROSE, "Do you have a price match guarantee?", None),
    (PROSE, "Do you offer gift wrapping?", None),
    (PROSE, "How do metaclasses work?", None),
    (PROSE, "What does the walrus operator do?", None),
    (PROSE, "How does __init_subclass__ work?", None),
    (PROSE, "What is the global interpreter lock?", None),
    (TABLE, "How much is the Jamaica Blue Mountain?", None),
    (TABLE, "Do you sell a Chemex?", None),
    (TABLE, "What is the price of the espresso machine?", None),
    (NONE, "What is the capital of France?", None),
    (NONE, "Who won the 2018 World Cup?", None),
    (NONE, "Can you write me a poem about the sea?", None),
    (NONE, "What will the weather be tomorrow?", None),
]


def main() -> None:
    out = []
    for i, row in enumerate(Q, 1):
        shape, question, expected = row[:3]
        item = {
            "id": i,
            "shape": shape,
            "question": question,
            "in_kb": expected is not None,
            # Every third question tunes the answerer; the rest are the reported test split.
            "split": "tune" if i % 3 == 0 else "test",
        }
        if expected is not None:
            item["expected"] = expected
            if len(row) > 3:
                item["evidence"] = row[3]
        out.append(item)
    path = Path(__file__).with_name("questions.json")
    path.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(out)} questions -> {path}")


if __name__ == "__main__":
    main()
