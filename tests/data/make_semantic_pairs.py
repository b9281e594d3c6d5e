#!/usr/bin/env python3
"""Write tests/data/semantic_cache_pairs.jsonl, a labelled prompt-pair set for a semantic cache.

A semantic cache answers a new prompt ("query") with the stored answer of an
earlier prompt ("cached") when their embeddings are similar enough. This file
measures, for each similarity threshold, how often the cache would hit when it
should (hit rate over the ``should_hit: true`` pairs) and how often it would
hit when it must not (false-hit rate over the ``should_hit: false`` pairs).

Each line is one JSON object::

    {"id": "para-001", "kind": "paraphrase", "cached": "...", "query": "...",
     "should_hit": true}

``should_hit`` is true only when the answer to ``cached`` is a correct and
complete answer to ``query``: the same question in different words. Kinds:

  paraphrase  (true)   the same request reworded: synonyms, reordered clauses,
                       question vs imperative, politeness, typos, short vs long.
  entity      (false)  same template, another named entity (city, person,
                       company, country, programming language, product).
  number      (false)  same sentence, another number, quantity, date or year.
  negation    (false)  the query negates or reverses the cached prompt
                       (pros/cons, enable/disable, ascending/descending, ...).
  unit        (false)  same quantity, another unit or the opposite direction.
  language    (false)  the same question in another language (the cached answer
                       would be in the wrong language).
  task        (false)  same subject or text, a different task.
  unrelated   (false)  plainly different questions (sanity floor).

All content is written by hand below; this script only serialises it and
checks it (counts per kind, 3-60 words per prompt, no empty prompts,
cached != query, no duplicate pairs, unique ids). Standard library only, no
randomness, so the output is reproducible::

    python tests/data/make_semantic_pairs.py           # rewrite the file
    python tests/data/make_semantic_pairs.py --check   # exit 1 if it is out of date
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "semantic_cache_pairs.jsonl"

# kind -> (id prefix, should_hit, minimum number of pairs)
KINDS: dict[str, tuple[str, bool, int]] = {
    "paraphrase": ("para", True, 120),
    "entity": ("ent", False, 45),
    "number": ("num", False, 45),
    "negation": ("neg", False, 35),
    "unit": ("unit", False, 25),
    "language": ("lang", False, 25),
    "task": ("task", False, 35),
    "unrelated": ("unrel", False, 15),
}

MIN_WORDS, MAX_WORDS = 3, 60

# ---------------------------------------------------------------------------
# paraphrase: same question, different words -> should hit
# ---------------------------------------------------------------------------
PARAPHRASE: list[tuple[str, str]] = [
    # coding help
    ("How do I reverse a list in Python?", "Python: what's the way to reverse a list?"),
    ("How can I check if a key exists in a Python dictionary?", "What's the best way to test whether a dict in Python contains a given key?"),
    ("What is the difference between a list and a tuple in Python?", "In Python, how do tuples differ from lists?"),
    ("How do I undo the last git commit but keep my changes?", "Is there a way to take back my latest git commit while keeping the edited files?"),
    ("How do I center a div horizontally and vertically with CSS?", "css center div both vertically and horizontally how"),
    ("Explain what a closure is in JavaScript.", "Can you tell me what closures are in JS?"),
    ("How do I read a CSV file into a pandas DataFrame?", "What's the pandas function to load a .csv file as a dataframe?"),
    ("Write a SQL query to find duplicate email addresses in a users table.", "Give me SQL that lists the emails appearing more than once in the users table."),
    ("How do I convert a string to an integer in Java?", "Java: turn a String into an int - how?"),
    ("What does the 'yield' keyword do in Python?", "Can someone explain Python's yield keyword to me?"),
    ("How do I delete a local branch in git?", "what's the git command to remove a branch on my machine"),
    ("Why am I getting \"TypeError: 'NoneType' object is not subscriptable\" in Python?", "What causes the Python error 'NoneType object is not subscriptable'?"),
    ("How do I sort a dictionary by its values in Python?", "Python - order a dict by value instead of by key?"),
    ("What is the time complexity of binary search?", "Binary search: what's its big-O running time?"),
    ("How can I make an HTTP GET request in Node.js?", "In Node, how do I send a GET request to a URL?"),
    ("How do I exit Vim?", "I'm stuck in vim, how do I quit it??"),
    ("What is a race condition in concurrent programming?", "Define race condition (in the context of concurrency)."),
    ("How do I find which process is using port 8080 on Linux?", "On linux, how can I see what program is listening on port 8080?"),
    ("How do I create a virtual environment in Python?", "What are the steps to set up a python venv?"),
    ("What's the difference between == and === in JavaScript?", "In JS, how does === differ from ==?"),
    ("How do I remove duplicates from an array in JavaScript?", "JavaScript: get rid of repeated values in an array"),
    ("Write a regular expression that matches a valid IPv4 address.", "Can you give me a regex to validate IPv4 addresses?"),
    ("How do I rename a column in a pandas DataFrame?", "pandas: change the name of a dataframe column"),
    ("What does git rebase do?", "Could you explain what rebasing means in git?"),
    ("How do I list all files in a directory, including hidden ones, on Linux?", "Linux command to show every file in a folder, hidden files too?"),
    ("How do I handle exceptions in Python?", "What's the way to catch and deal with errors in Python code?"),
    ("Explain the difference between a process and a thread.", "How is a thread different from a process?"),
    ("How can I measure how long a function takes to run in Python?", "What's the simplest way to time the execution of a Python function?"),
    ("What is dependency injection?", "Can you explain the concept of dependency injection in software design?"),
    ("How do I merge two dictionaries in Python?", "Python - combine 2 dicts into one, how?"),
    ("How do I get the current date and time in JavaScript?", "js get current datetime"),
    ("Why is my Docker container exiting immediately after starting?", "My docker container stops right after it starts. What could cause that?"),
    ("How do I reverse a string in Python?", "Hello! I'm learning Python and I'd like to know how I can reverse a string. Could you show me how to do it? Thanks a lot!"),
    ("Explain the quicksort algorithm.", "Can you walk me through how the quicksort algorithm works?"),
    # cooking
    ("How long should I boil an egg for a soft yolk?", "What's the boiling time for a soft-boiled egg with a runny yolk?"),
    ("What can I use instead of buttermilk in a recipe?", "What's a good buttermilk substitute for recipes?"),
    ("How do I make a basic vinaigrette?", "Give me a simple recipe for vinaigrette dressing."),
    ("At what temperature is chicken safe to eat?", "What internal temp does chicken need to reach to be safe?"),
    ("How do I keep pasta from sticking together?", "Tips to stop my pasta sticking together while it cooks?"),
    ("How do I cook rice on the stove?", "what's the method for making rice in a pot on the stovetop"),
    ("Why did my bread not rise?", "My bread dough didn't rise - what went wrong?"),
    ("How do you caramelize onions?", "What's the technique for caramelising onions properly?"),
    ("How long can cooked rice be kept in the fridge?", "How many days does leftover cooked rice stay good when refrigerated?"),
    ("What's the difference between baking soda and baking powder?", "baking powder vs baking soda, whats the diffrence?"),
    ("Give me a recipe for classic pancakes.", "How do I make traditional pancakes from scratch? Please share a recipe."),
    ("How do I sharpen a kitchen knife with a whetstone?", "What's the correct way to use a whetstone to sharpen my kitchen knife?"),
    ("Can I freeze fresh basil?", "Is it possible to put fresh basil leaves in the freezer?"),
    ("How do I keep my guacamole from turning brown?", "how to stop guacamole from browning"),
    ("How do I make a good cup of pour-over coffee?", "how to make a gud pour over cofee"),
    # travel
    ("What is the best time of year to visit Japan?", "When is the ideal season to travel to Japan?"),
    ("Do I need a visa to visit Canada as a UK citizen?", "As a British citizen, do I have to get a visa for a trip to Canada?"),
    ("What should I pack for a week-long beach holiday?", "packing list for a 7 day beach vacation?"),
    ("How do I get from Heathrow Airport to central London?", "What are the ways to travel from Heathrow into the centre of London?"),
    ("What are the must-see attractions in Rome?", "Which sights in Rome should I definitely not miss?"),
    ("How can I avoid jet lag on a long flight?", "Tips for preventing jet lag when flying long haul?"),
    ("Is tap water safe to drink in Iceland?", "Can you drink the tap water in Iceland?"),
    ("How much should I tip at restaurants in the United States?", "What's the normal tipping amount for restaurant meals in the US?"),
    ("Plan a 3-day itinerary for Barcelona.", "Could you put together a three-day trip plan for Barcelona, please?"),
    ("What is the cheapest way to travel around Europe?", "Most budget-friendly way to get around Europe?"),
    ("What is the capital of Australia?", "whats the capitol of australia"),
    # definitions
    ("What is photosynthesis?", "Can you define photosynthesis for me?"),
    ("What does 'ubiquitous' mean?", "Meaning of the word ubiquitous?"),
    ("Define inflation in economics.", "In economic terms, what is inflation?"),
    ("What is a blockchain?", "Explain what blockchain technology is."),
    ("What is the meaning of 'cognitive dissonance'?", "Could you explain the term cognitive dissonance?"),
    ("What is an API?", "Explain what an API is in software."),
    ("What is machine learning?", "Give me a definition of machine learning."),
    ("What is the difference between weather and climate?", "How does climate differ from weather?"),
    ("What does GDP stand for and what does it measure?", "GDP: what is it short for, and what does it measure?"),
    ("What is a haiku?", "Explain what a haiku poem is."),
    ("What is compound interest?", "Can you explain how compound interest works?"),
    ("What is the definition of irony?", "What does irony mean?"),
    ("What is an index fund?", "Could you tell me what an index fund is?"),
    ("What is the placebo effect?", "Explain the placebo effect to me."),
    # math word problems
    ("A train travels 120 km in 1.5 hours. What is its average speed?", "What's the average speed of a train that covers 120 kilometres in an hour and a half?"),
    ("If a shirt costs $40 and is on sale for 25% off, what is the sale price?", "What's the sale price of a $40 shirt discounted by 25 percent?"),
    ("Tom has 3 times as many apples as Sara. Together they have 48 apples. How many does Sara have?", "Sara and Tom have 48 apples in total, and Tom has three times as many as Sara. How many apples does Sara have?"),
    ("What is 15% of 80?", "Calculate fifteen percent of 80."),
    ("A rectangle is 8 cm long and 5 cm wide. What is its area?", "Find the area of a rectangle with length 8 cm and width 5 cm."),
    ("If I invest $1,000 at 5% annual interest compounded yearly, how much will I have after 3 years?", "How much will $1000 grow to in 3 years at 5% interest per year, compounded annually?"),
    ("A recipe needs 2 cups of flour for 12 cookies. How much flour do I need for 30 cookies?", "If 12 cookies take 2 cups of flour, how many cups are needed to make 30 cookies?"),
    ("Solve for x: 3x + 7 = 22", "What value of x satisfies 3x + 7 = 22?"),
    ("Two pipes fill a tank in 4 hours and 6 hours respectively. How long do they take together?", "One pipe fills a tank in 4 hours, another in 6 hours. If both run at once, how long until the tank is full?"),
    ("What is the probability of rolling a sum of 7 with two dice?", "Rolling two six-sided dice, what are the chances the total is 7?"),
    ("A car uses 6 liters of fuel per 100 km. How much fuel does it need for 250 km?", "How many liters of fuel are needed to drive 250 km if the car consumes 6 L per 100 km?"),
    ("What is the sum of the interior angles of a hexagon?", "Interior angles of a hexagon add up to how many degrees?"),
    # writing tasks
    ("Write a cover letter for a junior data analyst position.", "Can you draft me a cover letter applying for a junior data analyst role?"),
    ("Write a polite email asking my manager for a day off next Friday.", "Draft a courteous email to my boss requesting next Friday off."),
    ("Give me 5 catchy names for a coffee shop.", "Suggest five catchy coffee shop names."),
    ("Write a haiku about autumn leaves.", "Compose a haiku on the subject of autumn leaves."),
    ("Write a short bio for my LinkedIn profile as a software engineer with 5 years of experience.", "Could you write a brief LinkedIn bio for me? I'm a software engineer with five years of experience."),
    ("Write a thank-you note to a colleague who helped me with a project.", "Draft a thank you message for a coworker who helped me on a project."),
    ("Write a toast for my sister's wedding.", "Can you help me write a wedding toast for my sister?"),
    ("Write a product description for a stainless steel water bottle.", "I need a product description for a stainless-steel water bottle, please."),
    ("Write an apology email to a customer whose order arrived late.", "Draft an email apologising to a customer for their late order delivery."),
    ("Give me an outline for an essay on climate change.", "Outline an essay about climate change for me."),
    ("Write a limerick about a cat who loves cheese.", "Compose a limerick about a cheese-loving cat."),
    ("Write a resignation letter giving two weeks' notice.", "Draft a resignation letter with a two-week notice period."),
    ("Summarise the plot of Romeo and Juliet.", "Give me a summary of the story of Romeo and Juliet."),
    # customer support
    ("How do I reset my password?", "I forgot my password, how can I reset it?"),
    ("How can I cancel my subscription?", "What are the steps to cancel my subscription?"),
    ("Where can I find my invoice?", "I can't find my invoice, where is it located?"),
    ("How do I change the email address on my account?", "Can I update the email linked to my account? How?"),
    ("My order hasn't arrived yet. What should I do?", "What should I do if my order still hasn't been delivered?"),
    ("How do I request a refund?", "What's the process for getting a refund?"),
    ("How do I enable two-factor authentication?", "Steps to turn on 2FA for my account?"),
    ("Can I change my delivery address after placing an order?", "Is it possible to update the shipping address once the order has been placed?"),
    ("Why was my payment declined?", "My payment got declined - why might that happen?"),
    ("How do I delete my account?", "I want to remove my account permanently, how do I do that?"),
    ("How do I contact customer support by phone?", "Is there a phone number I can call to reach your support team?"),
    ("How do I update my credit card details?", "How can I change the card on file for billing?"),
    ("How do I return an item I bought online?", "What's the procedure for sending back something I ordered online?"),
    ("How do I take a screenshot on Windows 11?", "how do i tak a screenshoot on windows 11"),
    # science facts
    ("Why is the sky blue?", "What makes the sky appear blue?"),
    ("How far is the Moon from the Earth?", "What's the distance between the Earth and the Moon?"),
    ("What is the boiling point of water at sea level?", "At sea level, at what temperature does water boil?"),
    ("How many bones are in the adult human body?", "How many bones does a grown-up human have?"),
    ("What causes the seasons on Earth?", "Why does Earth have seasons?"),
    ("What is the speed of light?", "How fast does light travel?"),
    ("How do vaccines work?", "Explain the mechanism by which vaccines work."),
    ("What is the chemical formula for table salt?", "Table salt - what's its chemical formula?"),
    ("Why do leaves change color in the fall?", "What causes leaves to change colour in autumn?"),
    ("What is the largest planet in our solar system?", "Which planet in the solar system is the biggest?"),
    ("How does a rainbow form?", "What is the process that creates a rainbow?"),
    ("What is DNA made of?", "What are the building blocks of DNA?"),
    ("Why do we have tides?", "What causes ocean tides?"),
    ("What is absolute zero?", "Explain what absolute zero temperature is."),
    ("How do black holes form?", "What is the process by which a black hole is formed?"),
    # everyday / health / money / misc
    ("What are the symptoms of dehydration?", "What are the signs that someone is dehydrated?"),
    ("How many hours of sleep does an adult need?", "How much sleep should a grown adult get per night?"),
    ("How do I improve my credit score?", "What steps can I take to raise my credit score?"),
    ("What is the difference between a Roth IRA and a traditional IRA?", "Roth IRA vs traditional IRA - how do they differ?"),
    ("How do I get rid of fruit flies in my kitchen?", "My kitchen is full of fruit flies. How do I eliminate them?"),
    ("Who wrote Pride and Prejudice?", "Pride and Prejudice was written by whom?"),
    ("Who painted the Mona Lisa?", "Which artist painted the Mona Lisa?"),
    ("How can I be more productive when working from home?", "Please give me some tips for staying productive while I work remotely from home."),
    ("Translate 'good morning' into Spanish.", "How do you say good morning in Spanish?"),
    ("How do I convert Celsius to Fahrenheit?", "What's the formula for converting a temperature from Celsius into Fahrenheit?"),
]

# ---------------------------------------------------------------------------
# entity: same template, different named entity -> must not hit
# ---------------------------------------------------------------------------
ENTITY: list[tuple[str, str]] = [
    ("What is the capital of France?", "What is the capital of Spain?"),
    ("Translate this sentence to German: I would like a coffee, please.", "Translate this sentence to French: I would like a coffee, please."),
    ("What is the population of Tokyo?", "What is the population of Osaka?"),
    ("Who is the CEO of Microsoft?", "Who is the CEO of Google?"),
    ("How do I reverse a list in Python?", "How do I reverse a list in Ruby?"),
    ("What is the best time of year to visit Japan?", "What is the best time of year to visit Thailand?"),
    ("Write a short biography of Marie Curie.", "Write a short biography of Ada Lovelace."),
    ("How do I connect to a PostgreSQL database from Python?", "How do I connect to a MySQL database from Python?"),
    ("What currency is used in Switzerland?", "What currency is used in Sweden?"),
    ("When was Apple founded?", "When was Amazon founded?"),
    ("What is the tallest mountain in Africa?", "What is the tallest mountain in South America?"),
    ("Who wrote Pride and Prejudice?", "Who wrote Wuthering Heights?"),
    ("How do I install Docker on Ubuntu?", "How do I install Docker on macOS?"),
    ("What are the main features of the iPhone 15?", "What are the main features of the Pixel 8?"),
    ("How long does the train from Paris to Lyon take?", "How long does the train from Paris to Marseille take?"),
    ("What is the official language of Brazil?", "What is the official language of Argentina?"),
    ("Explain the causes of the French Revolution.", "Explain the causes of the American Revolution."),
    ("What are the opening hours of the Louvre?", "What are the opening hours of the Prado?"),
    ("How do I make an HTTP request in Go?", "How do I make an HTTP request in Rust?"),
    ("What time zone is New York in?", "What time zone is Chicago in?"),
    ("How many times has Brazil won the World Cup?", "How many times has Germany won the World Cup?"),
    ("What is the main ingredient in hummus?", "What is the main ingredient in guacamole?"),
    ("What is Albert Einstein famous for?", "What is Isaac Newton famous for?"),
    ("Summarize the plot of Hamlet.", "Summarize the plot of Macbeth."),
    ("How do I cancel my Netflix subscription?", "How do I cancel my Spotify subscription?"),
    ("What is the GDP of Germany?", "What is the GDP of Italy?"),
    ("What are the symptoms of measles?", "What are the symptoms of chickenpox?"),
    ("How do I declare a constant in JavaScript?", "How do I declare a constant in C++?"),
    ("Write a poem in the style of Emily Dickinson.", "Write a poem in the style of Walt Whitman."),
    ("What is the longest river in Europe?", "What is the longest river in Asia?"),
    ("Do I need a visa to visit Canada as a UK citizen?", "Do I need a visa to visit Australia as a UK citizen?"),
    ("How do I get from Heathrow Airport to central London?", "How do I get from Gatwick Airport to central London?"),
    ("What is the chemical symbol for gold?", "What is the chemical symbol for silver?"),
    ("Who was the first prime minister of India?", "Who was the first prime minister of Canada?"),
    ("What is the difference between AWS Lambda and AWS Fargate?", "What is the difference between AWS Lambda and Azure Functions?"),
    ("How many moons does Jupiter have?", "How many moons does Saturn have?"),
    ("Recommend some restaurants in Lisbon.", "Recommend some restaurants in Porto."),
    ("What is the stock ticker symbol for Tesla?", "What is the stock ticker symbol for Ford?"),
    ("Convert this Python function to JavaScript: def add(a, b): return a + b", "Convert this Python function to Java: def add(a, b): return a + b"),
    ("What is the climate like in Seattle?", "What is the climate like in Phoenix?"),
    ("Tell me about the history of the Roman Empire.", "Tell me about the history of the Ottoman Empire."),
    ("Which club does Lionel Messi play for?", "Which club does Cristiano Ronaldo play for?"),
    ("How do I set up a React project with Vite?", "How do I set up a Vue project with Vite?"),
    ("Is the Samsung Galaxy S23 waterproof?", "Is the Google Pixel 7 waterproof?"),
    ("What is the national dish of Spain?", "What is the national dish of Portugal?"),
    ("Explain the main ideas of Kant's philosophy.", "Explain the main ideas of Nietzsche's philosophy."),
    ("How do I open a bank account in Germany as a foreigner?", "How do I open a bank account in the Netherlands as a foreigner?"),
    ("What are the main exports of Chile?", "What are the main exports of Peru?"),
    ("How do I use the map function in Haskell?", "How do I use the map function in Elixir?"),
    ("What's the weather usually like in Berlin in December?", "What's the weather usually like in Madrid in December?"),
    ("Who founded Tesla?", "Who founded SpaceX?"),
    ("Compare Python and Java for backend development.", "Compare Python and Go for backend development."),
    ("What is the area code for Boston?", "What is the area code for Denver?"),
    ("What is the capital of Australia?", "What is the capital of Austria?"),
]

# ---------------------------------------------------------------------------
# number: same sentence, different number / quantity / date / year
# ---------------------------------------------------------------------------
NUMBER: list[tuple[str, str]] = [
    ("Convert 5 miles to km", "Convert 50 miles to km"),
    ("What happened in 1969?", "What happened in 1968?"),
    ("What is 15% of 80?", "What is 15% of 90?"),
    ("A train travels 120 km in 1.5 hours. What is its average speed?", "A train travels 120 km in 2 hours. What is its average speed?"),
    ("Who won the FIFA World Cup in 2014?", "Who won the FIFA World Cup in 2018?"),
    ("Give me 5 catchy names for a coffee shop.", "Give me 20 catchy names for a coffee shop."),
    ("What day of the week was 4 July 1976?", "What day of the week was 4 July 1977?"),
    ("How long should I roast a 2 kg chicken?", "How long should I roast a 4 kg chicken?"),
    ("Plan a 3-day itinerary for Barcelona.", "Plan a 7-day itinerary for Barcelona."),
    ("Is 97 a prime number?", "Is 91 a prime number?"),
    ("What is the square root of 144?", "What is the square root of 169?"),
    ("Solve for x: 3x + 7 = 22", "Solve for x: 3x + 7 = 25"),
    ("If I invest $1,000 at 5% annual interest compounded yearly, how much will I have after 3 years?", "If I invest $1,000 at 5% annual interest compounded yearly, how much will I have after 10 years?"),
    ("Write a 100-word summary of the French Revolution.", "Write a 500-word summary of the French Revolution."),
    ("What was the population of London in 1900?", "What was the population of London in 1800?"),
    ("Give me a pancake recipe for 2 people.", "Give me a pancake recipe for 8 people."),
    ("How many calories are in 100 grams of cooked rice?", "How many calories are in 250 grams of cooked rice?"),
    ("What is 2 to the power of 10?", "What is 2 to the power of 16?"),
    ("Who was the US president in 1985?", "Who was the US president in 1995?"),
    ("Calculate the monthly payment on a $300,000 mortgage at 6% over 30 years.", "Calculate the monthly payment on a $300,000 mortgage at 6% over 15 years."),
    ("What is the 10th Fibonacci number?", "What is the 20th Fibonacci number?"),
    ("What is the date 90 days after January 1, 2024?", "What is the date 60 days after January 1, 2024?"),
    ("Convert 1010 from binary to decimal.", "Convert 1011 from binary to decimal."),
    ("What is the area of a circle with a radius of 3 cm?", "What is the area of a circle with a radius of 5 cm?"),
    ("Give me a 30-minute full-body workout.", "Give me a 60-minute full-body workout."),
    ("What were the top songs of 1985?", "What were the top songs of 1995?"),
    ("Tom has 3 times as many apples as Sara. Together they have 48 apples. How many does Sara have?", "Tom has 3 times as many apples as Sara. Together they have 60 apples. How many does Sara have?"),
    ("What is the sum of the interior angles of a 6-sided polygon?", "What is the sum of the interior angles of an 8-sided polygon?"),
    ("How old is someone born in 1990?", "How old is someone born in 1992?"),
    ("What are the US federal income tax brackets for 2023?", "What are the US federal income tax brackets for 2024?"),
    ("What's new in Python 3.11?", "What's new in Python 3.12?"),
    ("Round 3.14159 to 2 decimal places.", "Round 3.14159 to 3 decimal places."),
    ("List the first 10 prime numbers.", "List the first 15 prime numbers."),
    ("How much is 250 US dollars in euros?", "How much is 25 US dollars in euros?"),
    ("What is the boiling point of water at 2000 meters altitude?", "What is the boiling point of water at 3000 meters altitude?"),
    ("Which city hosted the Summer Olympics in 2008?", "Which city hosted the Summer Olympics in 2012?"),
    ("Write the number 47 in Roman numerals.", "Write the number 74 in Roman numerals."),
    ("If it's 3 pm in London, what time is it in New York?", "If it's 9 pm in London, what time is it in New York?"),
    ("A rectangle is 8 cm long and 5 cm wide. What is its area?", "A rectangle is 8 cm long and 6 cm wide. What is its area?"),
    ("How much water should I drink per day if I weigh 60 kg?", "How much water should I drink per day if I weigh 90 kg?"),
    ("Summarize chapter 3 of Pride and Prejudice.", "Summarize chapter 13 of Pride and Prejudice."),
    ("What is 7 times 8?", "What is 7 times 9?"),
    ("What's the probability of getting exactly 3 heads in 5 coin flips?", "What's the probability of getting exactly 3 heads in 6 coin flips?"),
    ("Give me 3 tips for public speaking.", "Give me 10 tips for public speaking."),
    ("Which film won the Oscar for Best Picture in 1998?", "Which film won the Oscar for Best Picture in 2008?"),
    ("Write a SQL query to get the top 5 customers by revenue.", "Write a SQL query to get the top 10 customers by revenue."),
    ("How many teaspoons are in 2 tablespoons?", "How many teaspoons are in 3 tablespoons?"),
    ("What does HTTP status code 404 mean?", "What does HTTP status code 403 mean?"),
    ("What was the Apollo 11 mission?", "What was the Apollo 13 mission?"),
    ("Explain the main events of World War 1.", "Explain the main events of World War 2."),
    ("A recipe needs 2 cups of flour for 12 cookies. How much flour do I need for 30 cookies?", "A recipe needs 2 cups of flour for 12 cookies. How much flour do I need for 36 cookies?"),
    ("Is a laptop with 4 GB of RAM enough for programming?", "Is a laptop with 16 GB of RAM enough for programming?"),
    ("Convert the Unix timestamp 1700000000 to a human-readable date.", "Convert the Unix timestamp 1600000000 to a human-readable date."),
]

# ---------------------------------------------------------------------------
# negation: the query negates or reverses the cached prompt
# ---------------------------------------------------------------------------
NEGATION: list[tuple[str, str]] = [
    ("Which foods are high in iron?", "Which foods are not high in iron?"),
    ("Why should I use tabs?", "Why shouldn't I use tabs?"),
    ("What are the pros of remote work?", "What are the cons of remote work?"),
    ("What are the advantages of electric cars?", "What are the disadvantages of electric cars?"),
    ("Which fruits are safe for dogs to eat?", "Which fruits are toxic for dogs to eat?"),
    ("How do I increase the font size in VS Code?", "How do I decrease the font size in VS Code?"),
    ("How do I enable dark mode on my iPhone?", "How do I disable dark mode on my iPhone?"),
    ("Give me arguments for nuclear power.", "Give me arguments against nuclear power."),
    ("What are the benefits of intermittent fasting?", "What are the risks of intermittent fasting?"),
    ("Why is coffee good for you?", "Why is coffee bad for you?"),
    ("Sort this list in ascending order: 5, 2, 9, 1", "Sort this list in descending order: 5, 2, 9, 1"),
    ("What should I do before a job interview?", "What should I not do before a job interview?"),
    ("Which countries drive on the left side of the road?", "Which countries drive on the right side of the road?"),
    ("How do I add a user to the sudo group on Ubuntu?", "How do I remove a user from the sudo group on Ubuntu?"),
    ("List some synonyms of happy.", "List some antonyms of happy."),
    ("What foods should I eat to lower cholesterol?", "What foods should I avoid to lower cholesterol?"),
    ("Why do people like living in big cities?", "Why do people dislike living in big cities?"),
    ("What is the maximum value of a 32-bit signed integer?", "What is the minimum value of a 32-bit signed integer?"),
    ("How do I zip a folder on a Mac?", "How do I unzip a folder on a Mac?"),
    ("Which programming languages are statically typed?", "Which programming languages are dynamically typed?"),
    ("How do I encrypt a file with GPG?", "How do I decrypt a file with GPG?"),
    ("What are the signs of a healthy relationship?", "What are the signs of an unhealthy relationship?"),
    ("How do I lock cells in Excel?", "How do I unlock cells in Excel?"),
    ("Write a positive review of this restaurant: great pasta, slow service.", "Write a negative review of this restaurant: great pasta, slow service."),
    ("Which houseplants need direct sunlight?", "Which houseplants don't need direct sunlight?"),
    ("What makes a good leader?", "What makes a bad leader?"),
    ("How do I show hidden files in Windows Explorer?", "How do I stop showing hidden files in Windows Explorer?"),
    ("Convert this text to uppercase: Hello World", "Convert this text to lowercase: Hello World"),
    ("What are the reasons to learn Rust?", "What are the reasons not to learn Rust?"),
    ("Which vitamins are fat-soluble?", "Which vitamins are water-soluble?"),
    ("How do I mute a chat in WhatsApp?", "How do I unmute a chat in WhatsApp?"),
    ("What happens if I take ibuprofen with food?", "What happens if I take ibuprofen without food?"),
    ("Why do stock prices rise?", "Why do stock prices fall?"),
    ("How do I follow someone on Instagram?", "How do I unfollow someone on Instagram?"),
    ("Which numbers between 1 and 20 are prime?", "Which numbers between 1 and 20 are not prime?"),
    ("How can I gain weight in a healthy way?", "How can I lose weight in a healthy way?"),
    ("Give me arguments in favor of a four-day work week.", "Give me arguments against a four-day work week."),
    ("How do I speed up a video in Premiere Pro?", "How do I slow down a video in Premiere Pro?"),
    ("What should I include in a resume?", "What should I leave out of a resume?"),
    ("Is Python faster than C?", "Is C faster than Python?"),
    ("When is it appropriate to use the passive voice?", "When is it inappropriate to use the passive voice?"),
    ("How do I turn on location services on Android?", "How do I turn off location services on Android?"),
    ("Why did the Roman Empire rise to power?", "Why did the Roman Empire fall?"),
]

# ---------------------------------------------------------------------------
# unit: same quantity, different unit or conversion direction
# ---------------------------------------------------------------------------
UNIT: list[tuple[str, str]] = [
    ("Convert 10 kg to pounds", "Convert 10 pounds to kg"),
    ("100 F in C", "100 C in F"),
    ("Convert 5 feet to meters.", "Convert 5 meters to feet."),
    ("Convert 20 miles to kilometers.", "Convert 20 kilometers to miles."),
    ("What is 2 liters in gallons?", "What is 2 gallons in liters?"),
    ("Convert 500 ml to cups.", "Convert 500 ml to fluid ounces."),
    ("Convert 30 degrees Celsius to Kelvin.", "Convert 30 degrees Celsius to Fahrenheit."),
    ("How much is 100 USD in EUR?", "How much is 100 EUR in USD?"),
    ("How much is 50 dollars in British pounds?", "How much is 50 dollars in Japanese yen?"),
    ("Convert 3 hours to minutes.", "Convert 3 hours to seconds."),
    ("How many MB are in 1 GB?", "How many MiB are in 1 GiB?"),
    ("Convert 60 mph to km/h.", "Convert 60 km/h to mph."),
    ("Convert 5 ounces to grams.", "Convert 5 grams to ounces."),
    ("How many inches is 180 cm?", "How many feet is 180 cm?"),
    ("Convert 1 acre to square meters.", "Convert 1 acre to hectares."),
    ("Convert 2 tablespoons to teaspoons.", "Convert 2 teaspoons to tablespoons."),
    ("What is 45 degrees in radians?", "What is 45 radians in degrees?"),
    ("Convert 1500 watts to kilowatts.", "Convert 1500 watts to horsepower."),
    ("Convert 100 Mbps to MB/s.", "Convert 100 MB/s to Mbps."),
    ("How many kilocalories is 500 kJ?", "How many kilojoules is 500 kcal?"),
    ("Convert 250 grams of sugar to cups.", "Convert 250 grams of sugar to ounces."),
    ("What is 10 stone in kilograms?", "What is 10 stone in pounds?"),
    ("Convert 1 mile to meters.", "Convert 1 nautical mile to meters."),
    ("Convert 5 US gallons to liters.", "Convert 5 imperial gallons to liters."),
    ("Convert 3 PM Eastern Time to Central European Time.", "Convert 3 PM Central European Time to Eastern Time."),
    ("What is 25 psi in bar?", "What is 25 bar in psi?"),
    ("Convert 72 inches to centimeters.", "Convert 72 centimeters to inches."),
    ("How many square feet is 50 square meters?", "How many square meters is 50 square feet?"),
    ("Convert 1 light year to kilometers.", "Convert 1 light year to miles."),
    ("My oven says 180 C, what is that in Fahrenheit?", "My oven says 180 F, what is that in Celsius?"),
    ("Convert 1 cup of butter to grams.", "Convert 1 stick of butter to grams."),
    ("How many GB is 1 TB?", "How many MB is 1 TB?"),
]

# ---------------------------------------------------------------------------
# language: the same question in another language
# ---------------------------------------------------------------------------
LANGUAGE: list[tuple[str, str]] = [
    ("What is the capital of France?", "Quelle est la capitale de la France ?"),
    ("How do I reverse a list in Python?", "Wie kehre ich eine Liste in Python um?"),
    ("What are the health benefits of green tea?", "¿Cuáles son los beneficios para la salud del té verde?"),
    ("How long should I boil an egg for a soft yolk?", "Per quanto tempo devo far bollire un uovo per avere il tuorlo morbido?"),
    ("What is the best time of year to visit Japan?", "Qual é a melhor época do ano para visitar o Japão?"),
    ("Explain photosynthesis in simple terms.", "Erkläre die Photosynthese in einfachen Worten."),
    ("Write a short poem about the sea.", "Écris un court poème sur la mer."),
    ("How do I reset my password?", "¿Cómo restablezco mi contraseña?"),
    ("Why is the sky blue?", "Perché il cielo è blu?"),
    ("How do I make pancakes?", "Como faço panquecas?"),
    ("What is machine learning?", "Was ist maschinelles Lernen?"),
    ("Give me three tips for learning a new language.", "Donne-moi trois conseils pour apprendre une nouvelle langue."),
    ("How can I improve my sleep?", "¿Cómo puedo mejorar mi sueño?"),
    ("What is the difference between a list and a tuple in Python?", "Qual è la differenza tra una lista e una tupla in Python?"),
    ("Write an email to my landlord about a broken heater.", "Escreva um e-mail para o meu senhorio sobre um aquecedor avariado."),
    ("What causes inflation?", "Was verursacht Inflation?"),
    ("Recommend a good book for beginners in philosophy.", "Recommande-moi un bon livre pour débuter en philosophie."),
    ("How do I cancel my subscription?", "¿Cómo cancelo mi suscripción?"),
    ("What are the symptoms of the flu?", "Quali sono i sintomi dell'influenza?"),
    ("How far is the Moon from the Earth?", "Qual é a distância entre a Terra e a Lua?"),
    ("Wie spät ist es in Tokio, wenn es in Berlin 12 Uhr ist?", "What time is it in Tokyo when it is 12 noon in Berlin?"),
    ("Comment faire une pâte à crêpes ?", "¿Cómo se hace la masa para crepes?"),
    ("¿Qué es una API REST?", "What is a REST API?"),
    ("Come si prepara il risotto alla milanese?", "Wie bereitet man Risotto alla milanese zu?"),
    ("Summarize the causes of World War I.", "Fasse die Ursachen des Ersten Weltkriegs zusammen."),
    ("How do I center a div in CSS?", "Comment centrer une div en CSS ?"),
    ("What is the boiling point of water?", "¿Cuál es el punto de ebullición del agua?"),
    ("Tell me a joke about programmers.", "Raccontami una barzelletta sui programmatori."),
    ("How do I open a bank account?", "Como abro uma conta bancária?"),
    ("What is the meaning of life?", "Was ist der Sinn des Lebens?"),
    ("Quais são os principais pontos turísticos de Lisboa?", "Quels sont les principaux sites touristiques de Lisbonne ?"),
    ("Explain recursion with an example.", "Spiega la ricorsione con un esempio."),
]

# ---------------------------------------------------------------------------
# task: same subject or text, different task
# ---------------------------------------------------------------------------
_BIKE = (
    "The city council voted on Tuesday to expand the bike lane network by 40 kilometres "
    "over the next five years, citing rising cycling numbers and fewer traffic injuries."
)
_EMAIL = "Hi team, the release is postponed to Monday because QA found two blocking bugs in the payment flow."
_FACT = "def f(n): return 1 if n <= 1 else n * f(n - 1)"
_JSON = '{"name": "app", "port": 8080, "debug": false}'
_JS = "const total = items.reduce((sum, item) => sum + item.price, 0);"
_REVIEW = "The battery life is awful but the screen is gorgeous."
_CONTRACT = "The contract starts on 1 March 2024 and ends on 28 February 2025, with a three-month notice period."
_AREA = "def area(r): return 3.14159 * r * r"

TASK: list[tuple[str, str]] = [
    (f"Summarise this paragraph: {_BIKE}", f"Translate this paragraph to French: {_BIKE}"),
    ("Write a poem about the sea.", "Write a story about the sea."),
    ("Explain how quicksort works.", "Implement quicksort in C."),
    (f"Explain what this function does: {_FACT}", f"Write unit tests for this function: {_FACT}"),
    ("Correct the spelling in this sentence: I recieved the pacage yesterday.", "Count the words in this sentence: I recieved the pacage yesterday."),
    ("Write a cover letter for a junior data analyst position.", "Write a job description for a junior data analyst position."),
    ("Summarize the plot of Hamlet.", "Analyze the main themes of Hamlet."),
    ("Give me a recipe for banana bread.", "How many calories are in a slice of banana bread?"),
    ("Explain how a binary search tree works.", "Write a Python class that implements a binary search tree."),
    ("Write a haiku about autumn leaves.", "Write a limerick about autumn leaves."),
    ("List the ingredients for a classic margherita pizza.", "Give step-by-step instructions for baking a classic margherita pizza."),
    (f"Convert this JSON to YAML: {_JSON}", f"Write a Python dataclass that matches this JSON: {_JSON}"),
    ("Write a SQL query that returns all orders from last month.", "Explain how to speed up a slow SQL query that returns all orders from last month."),
    (f"Summarise this email: {_EMAIL}", f"Write a reply to this email: {_EMAIL}"),
    ("Write a blog post about the benefits of meditation.", "Write a tweet about the benefits of meditation."),
    ("Explain the rules of chess.", "Suggest a good opening strategy in chess."),
    ("Find the derivative of x^3 + 2x.", "Find the integral of x^3 + 2x."),
    ("Factor the polynomial x^2 - 5x + 6.", "Plot the polynomial x^2 - 5x + 6 and describe its shape."),
    ("Write a regex that matches email addresses.", "Explain why validating email addresses with a regex is hard."),
    ("Translate this notice to Spanish: Our office will be closed on Friday for maintenance.", "Rewrite this notice in a friendlier tone: Our office will be closed on Friday for maintenance."),
    ("Create a workout plan for building muscle.", "Create a meal plan for building muscle."),
    ("Write a product description for a stainless steel water bottle.", "Write a customer review of a stainless steel water bottle."),
    ("Explain the difference between TCP and UDP.", "Write a Python example that sends a message over UDP."),
    ("Describe the water cycle.", "Write a quiz with five questions about the water cycle."),
    ("Tell me about the history of the Eiffel Tower.", "How do I buy tickets for the Eiffel Tower?"),
    ("Write a Python function that checks if a string is a palindrome.", "Write unit tests for a Python function that checks if a string is a palindrome."),
    ("Summarize the book 1984 by George Orwell.", "Write a critical review of the book 1984 by George Orwell."),
    ("Explain the causes of the French Revolution.", "Write a timeline of the French Revolution."),
    (f"Add comments to this JavaScript: {_JS}", f"Convert this JavaScript to Python: {_JS}"),
    ("Paraphrase this sentence: The meeting has been moved to next week.", "Translate this sentence to Italian: The meeting has been moved to next week."),
    ("Make a shopping list for a vegetarian lasagna.", "Write a recipe for a vegetarian lasagna."),
    ("Explain what a mortgage is.", "Calculate the monthly payment on a $200,000 mortgage at 5% over 30 years."),
    ("Write a short story about a dragon.", "Give me name ideas for a dragon character in a story."),
    (f"Extract all the dates from this text: {_CONTRACT}", f"Summarize this text in one sentence: {_CONTRACT}"),
    (f"Classify the sentiment of this review: {_REVIEW}", f"Translate this review into German: {_REVIEW}"),
    ("Explain the Pythagorean theorem.", "Prove the Pythagorean theorem."),
    (f"Write a docstring for this function: {_AREA}", f"Add type hints to this function: {_AREA}"),
    ("What is the plot of The Great Gatsby?", "Who is the author of The Great Gatsby?"),
    ("Give me a packing list for a week in Iceland.", "Give me an itinerary for a week in Iceland."),
    ("Summarise the key points of the GDPR.", "Write a GDPR-compliant privacy policy for a small online shop."),
    ("Explain what a Dockerfile is.", "Write a Dockerfile for a Flask app."),
    ("Write a wedding toast for my sister.", "Write a wedding invitation for my sister."),
]

# ---------------------------------------------------------------------------
# unrelated: plainly different questions
# ---------------------------------------------------------------------------
UNRELATED: list[tuple[str, str]] = [
    ("What is the capital of France?", "How do I bake sourdough bread?"),
    ("How do I reverse a list in Python?", "What are the symptoms of a cold?"),
    ("Write a haiku about autumn leaves.", "How do I change a flat tire?"),
    ("What is the speed of light?", "Recommend a good science fiction novel."),
    ("How do I reset my password?", "What is the tallest building in the world?"),
    ("Explain compound interest.", "How do I train my puppy to sit?"),
    ("What's the weather usually like in Berlin in December?", "How do I write a for loop in Bash?"),
    ("Translate 'thank you' into Japanese.", "How many players are on a soccer team?"),
    ("What are the benefits of yoga?", "How do I install Node.js on Windows?"),
    ("Who painted the Mona Lisa?", "How do I make cold brew coffee?"),
    ("Summarize the plot of Hamlet.", "What is the square root of 2?"),
    ("How do I cancel my subscription?", "Why do cats purr?"),
    ("Give me a recipe for banana bread.", "What is Kubernetes used for?"),
    ("What causes earthquakes?", "Write a birthday message for my grandmother."),
    ("How do I center a div in CSS?", "What is the population of Canada?"),
    ("Plan a 3-day itinerary for Barcelona.", "Explain the difference between RAM and ROM."),
    ("What is a black hole?", "How do I remove a wine stain from carpet?"),
    ("How can I improve my credit score?", "What is the plural of cactus?"),
    ("Write a SQL query to find duplicate email addresses in a users table.", "What are good houseplants for low light?"),
    ("How long should I boil an egg for a soft yolk?", "Who won the Nobel Prize in Literature in 2016?"),
]

PAIRS: dict[str, list[tuple[str, str]]] = {
    "paraphrase": PARAPHRASE,
    "entity": ENTITY,
    "number": NUMBER,
    "negation": NEGATION,
    "unit": UNIT,
    "language": LANGUAGE,
    "task": TASK,
    "unrelated": UNRELATED,
}


def _norm(text: str) -> str:
    """Case-, punctuation- and whitespace-insensitive form used for duplicate checks."""
    return " ".join(re.findall(r"\w+", text.casefold()))


def build() -> list[dict]:
    assert list(PAIRS) == list(KINDS), "PAIRS and KINDS must list the same kinds in the same order"
    rows: list[dict] = []
    for kind, pairs in PAIRS.items():
        prefix, should_hit, _ = KINDS[kind]
        for i, (cached, query) in enumerate(pairs, 1):
            rows.append(
                {
                    "id": f"{prefix}-{i:03d}",
                    "kind": kind,
                    "cached": cached,
                    "query": query,
                    "should_hit": should_hit,
                }
            )
    validate(rows)
    return rows


def validate(rows: list[dict]) -> None:
    ids: set[str] = set()
    seen: dict[frozenset[str], str] = {}
    counts = {k: 0 for k in KINDS}
    for row in rows:
        rid, kind, cached, query = row["id"], row["kind"], row["cached"], row["query"]
        assert set(row) == {"id", "kind", "cached", "query", "should_hit"}, rid
        assert rid not in ids, f"duplicate id {rid}"
        ids.add(rid)
        assert kind in KINDS, (rid, kind)
        assert row["should_hit"] is KINDS[kind][1], rid
        for text in (cached, query):
            assert isinstance(text, str) and text.strip(), f"empty prompt in {rid}"
            assert text == text.strip() and "  " not in text and "\n" not in text, f"stray whitespace in {rid}: {text!r}"
            n = len(text.split())
            assert MIN_WORDS <= n <= MAX_WORDS, f"{rid}: {n} words in {text!r}"
        assert cached != query and _norm(cached) != _norm(query), f"cached == query in {rid}"
        if kind == "paraphrase":
            # not trivially identical: the word sets must differ, not just order/punctuation
            assert set(_norm(cached).split()) != set(_norm(query).split()), f"trivial paraphrase {rid}"
        key = frozenset((_norm(cached), _norm(query)))
        assert key not in seen, f"duplicate pair {rid} (same as {seen[key]})"
        seen[key] = rid
        counts[kind] += 1
    for kind, (_, _, minimum) in KINDS.items():
        assert counts[kind] >= minimum, f"{kind}: {counts[kind]} < {minimum}"


def counts_per_kind(rows: list[dict]) -> dict[str, int]:
    counts = {k: 0 for k in KINDS}
    for row in rows:
        counts[row["kind"]] += 1
    return counts


def render(rows: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if the file differs from what would be written")
    args = ap.parse_args()
    rows = build()
    content = render(rows)
    summary = ", ".join(f"{k}={v}" for k, v in counts_per_kind(rows).items())
    if args.check:
        current = OUT.read_text(encoding="utf-8") if OUT.exists() else None
        if current != content:
            print(f"{OUT} is out of date; run {Path(__file__).name}", file=sys.stderr)
            return 1
        print(f"{OUT} is up to date ({len(rows)} pairs: {summary})")
        return 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(content, encoding="utf-8")
    print(f"wrote {OUT} ({len(rows)} pairs: {summary})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
