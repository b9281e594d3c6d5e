#!/usr/bin/env python3
"""Generate tests/data/semantic_cache_holdout.jsonl, a held-out semantic-cache set.

This set measures the semantic cache's hit/miss decision on prompt pairs that
were written independently of the cache's tuning data and guard code (neither
was looked at while writing it). All content is hand-written below; nothing is
sampled, so the output is fully deterministic. Standard library only::

    python tests/data/make_semantic_holdout.py           # write the file
    python tests/data/make_semantic_holdout.py --check   # exit 1 if stale

Each line is one JSON object::

    {"id": "ho-para-001", "kind": "paraphrase", "cached": "<earlier prompt>",
     "query": "<new prompt>", "should_hit": true}

``should_hit`` is true only when the answer stored for ``cached`` fully and
correctly answers ``query``. Kinds:

* ``paraphrase`` (true): the same request reworded — terse search-style vs
  full sentences, chatty long versions, typos, question vs imperative,
  different word order.
* ``entity`` (false): one named thing swapped (country, drug, product, tool,
  Kubernetes object, historical person ...).
* ``number`` (false): one number changed or two numbers swapped, changing the
  correct answer.
* ``negation`` (false): an added "not"/"no" or an opposite direction
  (increase/decrease, import/export, allowed/forbidden, before/after,
  min/max, ascending/descending, enable/disable, won/lost ...). Yes/no pairs
  whose single fact answers both polarities are deliberately avoided; the
  questions ask for lists, procedures or explanations whose content flips.
* ``unit`` (false): other unit, currency, time zone or conversion direction.
* ``language`` (false): the same question in German, French, Spanish,
  Italian, Dutch or Portuguese (a cached English answer does not serve a user
  who asked in another language, and vice versa).
* ``task`` (false): same subject, different deliverable (explain vs draft,
  summarize vs quiz, define vs write a manifest ...).
* ``unrelated`` (false): different topic, sometimes sharing a surface word.

Rows are independent: evaluate each pair on its own (a cache holding only
that row's ``cached`` prompt). Cached prompts are deliberately reused across
kinds (one stored prompt, many near misses), and a few prompts appear as the
cached side of one row and the query side of another, so loading every cached
prompt into one shared cache would turn some misses into legitimate hits.

Domains: law and HR, finance, medicine/health, sports rules, geography,
history, DevOps/Kubernetes, SQL, spreadsheets, SaaS customer support, travel
logistics, physics/chemistry homework.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "semantic_cache_holdout.jsonl"

# kind -> (id prefix, should_hit, minimum count)
KINDS = {
    "paraphrase": ("para", True, 80),
    "entity": ("ent", False, 20),
    "number": ("num", False, 20),
    "negation": ("neg", False, 20),
    "unit": ("unit", False, 15),
    "language": ("lang", False, 15),
    "task": ("task", False, 20),
    "unrelated": ("unrel", False, 10),
}

# --------------------------------------------------------------------------
# paraphrase: the cached answer fully answers the query
# --------------------------------------------------------------------------
PARAPHRASE = [
    # law / HR
    ("How many days of annual leave is a full-time employee entitled to in Germany by law?",
     "germany statutory minimum vacation days full time worker"),
    ("How does a non-compete clause work in an employment contract?",
     "Explain how non-compete clauses in employment agreements work."),
    ("What counts as constructive dismissal?",
     "Could you explain what constructive dismissal means in employment law?"),
    ("What is the statute of limitations for breach of contract in California?",
     "california breach of contract lawsuit deadline statute of limitations"),
    ("Can my employer require me to work overtime?",
     "Is my boss allowed to make overtime mandatory for me?"),
    ("What rights does an employee have during a disciplinary hearing in the UK?",
     "UK disciplinary hearing: what are the employee's rights?"),
    ("What is the difference between a will and a trust?",
     "will vs trust estate planning differnce"),
    ("What is at-will employment?",
     "meaning of at will employment"),
    ("How is severance pay usually calculated?",
     "typical way severance payments get calculated"),
    ("Can a landlord in Ontario keep the security deposit for normal wear and tear?",
     "hi! so I just moved out of my apartment in Ontario and my landlord says he's keeping the deposit "
     "because of normal wear and tear on the carpets — is he actually allowed to do that?"),
    ("What is a force majeure clause in a contract?",
     "define force majeure clause (contracts)"),
    ("Is an employer required to pay out unused vacation days when someone quits in California?",
     "quitting my job in California — does the company have to pay me for vacation I never used?"),
    # finance
    ("What is the difference between a 401(k) and a Roth IRA?",
     "Explain how a Roth IRA differs from a 401(k)."),
    ("How do I calculate compound interest on a savings account?",
     "formula for compund interest savings account"),
    ("What is an ETF and how is it different from a mutual fund?",
     "Explain exchange-traded funds and how they differ from mutual funds."),
    ("What is a P/E ratio and how is it calculated?",
     "price to earnings ratio meaning and formula"),
    ("What is the penalty for withdrawing from a 401(k) before age 59½?",
     "early 401k withdrawal penalty before 59 and a half"),
    ("How do bond prices react when interest rates go up?",
     "What happens to bond prices if interest rates rise?"),
    ("What is an index fund?",
     "define index fund"),
    ("How does dollar-cost averaging work?",
     "explain dollar cost averaging investing strategy"),
    ("What is an emergency fund and how many months of expenses should it cover?",
     "I keep reading that everyone should have an emergency fund, but nobody agrees — what exactly is it "
     "and how many months of living costs should I keep in it?"),
    ("What is the difference between gross margin and net margin?",
     "net margin vs gross margin, what's the difference"),
    # medicine / health
    ("What are the common symptoms of iron deficiency anemia?",
     "Which signs typically indicate that someone has anemia caused by low iron?"),
    ("What is the normal resting heart rate for an adult?",
     "typical resting pulse range for adults"),
    ("How many milligrams of caffeine is safe per day for a healthy adult?",
     "safe daily caffeine limit in mg for a healthy grown-up"),
    ("What does a high LDL cholesterol level mean?",
     "my LDL cholesterol came back high, what does that indicate?"),
    ("What is the recommended dose of ibuprofen for adults?",
     "how much ibuprofen can an adult take, standard dosing"),
    ("What are the early warning signs of a stroke?",
     "What symptoms suggest someone might be having a stroke?"),
    ("Can I take ibuprofen and paracetamol together?",
     "is it safe to combine ibuprofen with paracetamol (acetaminophen)?"),
    ("What causes type 2 diabetes?",
     "what are the causes of type II diabetes"),
    ("What is the difference between a cold and the flu?",
     "flu vs common cold — how do I tell them apart?"),
    # sports rules
    ("What does the offside rule in soccer say?",
     "Can you explain offside in football (soccer) to me?"),
    ("How many players does each team have on the field in rugby union?",
     "rugby union: number of players per side on the pitch"),
    ("How is a tiebreak played in tennis?",
     "tennis tie-break rules explained"),
    ("How many points is a touchdown worth in American football?",
     "touchdown points value nfl"),
    ("How long is a regulation NBA game?",
     "nba game length, how many minutes of play"),
    ("How does VAR work in soccer?",
     "Explain the video assistant referee system in football."),
    ("What is the maximum number of substitutions per team in a FIFA World Cup match?",
     "world cup max number of subs per team per match"),
    ("What is a let in tennis?",
     "meaning of a let call in tennis"),
    # geography
    ("What is the capital of Australia?",
     "australia capital city?"),
    ("Which river is the longest in Europe?",
     "What's Europe's longest river?"),
    ("How many time zones does Russia have?",
     "number of time zones in russia"),
    ("What is the highest mountain in Africa?",
     "Which mountain is the tallest in Africa?"),
    ("What is the largest desert in the world?",
     "which desert is the biggest on earth"),
    ("Which countries border Switzerland?",
     "What are Switzerland's neighbouring countries?"),
    ("What is the population of Canada?",
     "how many people live in canada"),
    # history
    ("When did the Berlin Wall fall?",
     "On what date did the Berlin Wall come down?"),
    ("Who was the first emperor of Rome?",
     "first Roman emperor name"),
    ("What were the main causes of the fall of the Western Roman Empire?",
     "why did the western roman empire collapse"),
    ("What was the Marshall Plan?",
     "Explain the Marshall Plan."),
    ("When did the French Revolution start?",
     "In which year did the French Revolution begin?"),
    ("Who signed the Magna Carta and when?",
     "Magna Carta: when was it sealed and by which king?"),
    ("Why did the United States enter World War I?",
     "reasons the US joined WW1"),
    # DevOps / Kubernetes
    ("How do I roll back a Kubernetes deployment to the previous revision?",
     "kubectl command to undo the last rollout of a deployment"),
    ("What is a liveness probe in Kubernetes?",
     "Explain what Kubernetes liveness probes are for."),
    ("How do I see the logs of a crashed pod in Kubernetes?",
     "kubectl get logs from previous container instance after crash"),
    ("How do I set resource limits for a container in a Kubernetes pod spec?",
     "Kubernetes: how to cap CPU and memory for a container in the pod YAML"),
    ("What is the difference between a Deployment and a StatefulSet?",
     "statefulset vs deployment kubernets"),
    ("How do I create a Kubernetes secret from a file?",
     "kubectl create secret using contents of a file"),
    ("How do I scale a deployment to five replicas with kubectl?",
     "kubectl command to set the replica count of a deployment to 5"),
    ("What is a Helm chart?",
     "explain helm charts in kubernetes"),
    ("How do I drain a Kubernetes node before maintenance?",
     "Safely evict all pods from a k8s node so I can do maintenance on it — how?"),
    ("What does CrashLoopBackOff mean and why does it happen?",
     "ok so I deployed my app and kubectl get pods shows CrashLoopBackOff over and over, "
     "what does that status actually mean and why does it happen?"),
    ("How do I switch between Kubernetes contexts with kubectl?",
     "change current kubectl context to another cluster"),
    # SQL
    ("In SQL, what is the difference between INNER JOIN and LEFT JOIN?",
     "left join vs inner join sql difference"),
    ("How do I write a SQL query to find duplicate email addresses in a users table?",
     "sql: list emails that appear more than once in users table"),
    ("How does a SQL index speed up queries?",
     "Why do database indexes make SQL queries faster?"),
    ("How do I count distinct values in a SQL column?",
     "sql count unique values in a column"),
    ("What does the HAVING clause do in SQL?",
     "Explain SQL HAVING"),
    ("How do I rename a column in PostgreSQL?",
     "postgres alter table rename column syntax"),
    ("Whats the differnce between UNION and UNION ALL in sql",
     "SQL: how does UNION ALL differ from UNION?"),
    ("What is a SQL window function?",
     "explain window functions in SQL"),
    # spreadsheets
    ("How do I freeze the top row in Excel so it stays visible while scrolling?",
     "excel keep header row visible when scrolling down"),
    ("How do I remove duplicates from a column in Google Sheets?",
     "google sheets delete duplicate values in one column"),
    ("How does VLOOKUP work in Excel?",
     "Explain the Excel VLOOKUP function to me"),
    ("How do I make a pivot table in Google Sheets?",
     "Steps to create a pivot table in Google Sheets, please."),
    ("How do I lock a cell in Excel so others can't edit it?",
     "excel protect specific cells from being edited"),
    ("How do I split first and last names into separate columns in Excel?",
     "excel separate full name into first name and last name columns"),
    ("What is conditional formatting in Excel used for?",
     "purpose of excel conditional formatting"),
    # SaaS customer support
    ("How do I change the billing email on my account?",
     "Where can I update the email address that invoices are sent to?"),
    ("Can I get a refund if I cancel my annual subscription in the middle of the term?",
     "If I cancel my yearly plan partway through, will I get money back?"),
    ("How do I cancel my subscription?",
     "I want to stop my subscription, how do I do that?"),
    ("How do I add a teammate to my workspace?",
     "how do i invite a coworker to our workspace"),
    ("Why was I charged twice this month?",
     "I see two charges on my card for this month's bill, why did that happen?"),
    ("How do I enable two-factor authentication on my account?",
     "turn on 2FA for my login"),
    ("How do I export my data from your app?",
     "Is there a way to download all my data out of the product?"),
    ("I didn't recieve the password reset email, what should I do?",
     "The password reset email never arrived in my inbox. What can I do?"),
    # travel logistics
    ("Do I need a visa to visit Japan as a US citizen for two weeks of tourism?",
     "US passport holder, 14-day vacation in Japan — is a visa required?"),
    ("What documents do I need to rent a car in Italy?",
     "Which papers are required to hire a car in Italy?"),
    ("How should I travel from Heathrow Airport to central London?",
     "best way to get from heathrow into central london"),
    ("What is the carry-on baggage allowance on Ryanair?",
     "ryanair hand luggage allowance size and weight"),
    ("Is travel insurance mandatory for a Schengen visa?",
     "Do I have to buy travel insurance to get a Schengen visa?"),
    ("How early should I arrive at the airport for an international flight?",
     "how many hours before an international flight should i get to the airport"),
    ("What is jet lag and how can I reduce it?",
     "tips to minimize jet lag and what causes it"),
    # physics / chemistry homework
    ("What is Newton's second law of motion?",
     "state newtons 2nd law"),
    ("What is the pH of pure water at 25 °C?",
     "At 25 degrees Celsius, what pH does pure water have?"),
    ("What is the boiling point of water at the top of Mount Everest?",
     "At what temperature does water boil on the summit of Everest?"),
    ("What is the chemical formula for table salt?",
     "table salt formula chemistry"),
    ("Explain Ohm's law.",
     "What does Ohm's law state?"),
    ("What is the half-life of carbon-14?",
     "how long is the half life of carbon 14"),
    ("What is the difference between speed and velocity?",
     "speed vs velocity physics"),
    ("What is Avogadro's number?",
     "value of avogadro constant"),
    ("How do I balance the chemical equation for the combustion of methane?",
     "balance CH4 + O2 -> CO2 + H2O"),
    ("What is the difference between an exothermic and an endothermic reaction?",
     "endothermic vs exothermic reactions explained"),
    ("What is the gravitational acceleration on the surface of the Moon?",
     "moon surface gravity acceleration value"),
    ("What is the difference between mass and weight?",
     "mass vs weight, physics difference"),
]

# --------------------------------------------------------------------------
# entity: one named thing swapped
# --------------------------------------------------------------------------
ENTITY = [
    ("What is the capital of Australia?",
     "What is the capital of Austria?"),
    ("How many days of annual leave is a full-time employee entitled to in Germany by law?",
     "How many days of annual leave is a full-time employee entitled to in France by law?"),
    ("What is the statute of limitations for breach of contract in California?",
     "What is the statute of limitations for breach of contract in Texas?"),
    ("What is the difference between a 401(k) and a Roth IRA?",
     "What is the difference between a 401(k) and a traditional IRA?"),
    ("What are the common symptoms of iron deficiency anemia?",
     "What are the common symptoms of vitamin B12 deficiency anemia?"),
    ("How many players does each team have on the field in rugby union?",
     "How many players does each team have on the field in rugby league?"),
    ("Who was the first emperor of Rome?",
     "Who was the first emperor of China?"),
    ("Do I need a visa to visit Japan as a US citizen for two weeks of tourism?",
     "Do I need a visa to visit China as a US citizen for two weeks of tourism?"),
    ("What is a liveness probe in Kubernetes?",
     "What is a readiness probe in Kubernetes?"),
    ("How do I freeze the top row in Excel so it stays visible while scrolling?",
     "How do I freeze the top row in Google Sheets so it stays visible while scrolling?"),
    ("What is the carry-on baggage allowance on Ryanair?",
     "What is the carry-on baggage allowance on easyJet?"),
    ("What is the half-life of carbon-14?",
     "What is the half-life of uranium-238?"),
    ("Which river is the longest in Europe?",
     "Which river is the longest in Africa?"),
    ("When did the Berlin Wall fall?",
     "When did Constantinople fall?"),
    ("How do I rename a column in PostgreSQL?",
     "How do I rename a column in SQL Server?"),
    ("How many points is a touchdown worth in American football?",
     "How many points is a field goal worth in American football?"),
    ("What is the chemical formula for table salt?",
     "What is the chemical formula for baking soda?"),
    ("Which countries border Switzerland?",
     "Which countries border Slovenia?"),
    ("What was the Marshall Plan?",
     "What was the Schlieffen Plan?"),
    ("What is the difference between a Deployment and a StatefulSet?",
     "What is the difference between a Deployment and a DaemonSet?"),
    ("What rights does an employee have during a disciplinary hearing in the UK?",
     "What rights does an employee have during a disciplinary hearing in Ireland?"),
    ("What is the gravitational acceleration on the surface of the Moon?",
     "What is the gravitational acceleration on the surface of Mars?"),
    ("How do I connect my Slack workspace to the app?",
     "How do I connect my Microsoft Teams workspace to the app?"),
    ("How should I travel from Heathrow Airport to central London?",
     "How should I travel from Gatwick Airport to central London?"),
    ("Can I take ibuprofen and paracetamol together?",
     "Can I take ibuprofen and aspirin together?"),
    ("Why did the United States enter World War I?",
     "Why did Italy enter World War I?"),
]

# --------------------------------------------------------------------------
# number: one number changed (or two swapped)
# --------------------------------------------------------------------------
NUMBER = [
    ("kubectl command to set the replica count of a deployment to 5",
     "kubectl command to set the replica count of a deployment to 3"),
    ("Calculate the monthly payment on a $300,000 mortgage at 6% over 30 years.",
     "Calculate the monthly payment on a $300,000 mortgage at 6% over 15 years."),
    ("What is 15% of 240?",
     "What is 15% of 420?"),
    ("What was the US inflation rate in 2021?",
     "What was the US inflation rate in 2012?"),
    ("How much vacation does an employee get after 5 years of service under the Ontario ESA?",
     "How much vacation does an employee get after 3 years of service under the Ontario ESA?"),
    ("Is there a penalty for withdrawing money from a 401(k) at age 50?",
     "Is there a penalty for withdrawing money from a 401(k) at age 65?"),
    ("A car accelerates from 0 to 20 m/s in 4 seconds. What is its acceleration?",
     "A car accelerates from 0 to 20 m/s in 5 seconds. What is its acceleration?"),
    ("What is the pH of a 0.01 M HCl solution?",
     "What is the pH of a 0.001 M HCl solution?"),
    ("SQL query to get the top 10 customers by total order value",
     "SQL query to get the top 5 customers by total order value"),
    ("Excel formula to round a number to 2 decimal places",
     "Excel formula to round a number to 3 decimal places"),
    ("Is a body temperature of 38.5 °C a fever in adults?",
     "Is a body temperature of 37.2 °C a fever in adults?"),
    ("Is a blood pressure of 135/85 considered high?",
     "Is a blood pressure of 115/75 considered high?"),
    ("What happened in England in 1066?",
     "What happened in England in 1215?"),
    ("In tennis, what happens when the games score in a set reaches 6-6?",
     "In tennis, what happens when the games score in a set reaches 5-5?"),
    ("Can I take 400 mg of ibuprofen every 4 hours?",
     "Can I take 800 mg of ibuprofen every 4 hours?"),
    ("How much will $10,000 grow to at 5% compounded annually for 10 years?",
     "How much will $10,000 grow to at 5% compounded annually for 20 years?"),
    ("How many vacation days do I accrue per month if I get 20 days a year?",
     "How many vacation days do I accrue per month if I get 25 days a year?"),
    ("Can I upload files larger than 2 GB to my workspace?",
     "Can I upload files larger than 200 MB to my workspace?"),
    ("What is the kinetic energy of a 2 kg object moving at 3 m/s?",
     "What is the kinetic energy of a 3 kg object moving at 2 m/s?"),
    ("Write a SQL query to find the 2nd highest salary in the employees table.",
     "Write a SQL query to find the 3rd highest salary in the employees table."),
    ("Which country hosted the 2010 FIFA World Cup?",
     "Which country hosted the 2014 FIFA World Cup?"),
    ("What should I see in Rome in 2 days?",
     "What should I see in Rome in 5 days?"),
    ("Kubernetes CronJob schedule to run a job every 15 minutes",
     "Kubernetes CronJob schedule to run a job every 5 minutes"),
    ("What is the statutory notice period for an employee with 2 years of service under UK law?",
     "What is the statutory notice period for an employee with 8 years of service under UK law?"),
    ("How many moles are in 36 grams of water?",
     "How many moles are in 63 grams of water?"),
]

# --------------------------------------------------------------------------
# negation: added "not" or opposite direction / antonym
# --------------------------------------------------------------------------
NEGATION = [
    ("What foods increase LDL cholesterol?",
     "What foods decrease LDL cholesterol?"),
    ("Which goods does Germany import the most?",
     "Which goods does Germany export the most?"),
    ("What is a goalkeeper allowed to do inside the penalty area?",
     "What is a goalkeeper not allowed to do inside the penalty area?"),
    ("What was the political situation in Europe just before World War I?",
     "What was the political situation in Europe just after World War I?"),
    ("SQL query to find the maximum salary per department",
     "SQL query to find the minimum salary per department"),
    ("Which reasons are legal grounds for dismissal in Germany?",
     "Which reasons are not legal grounds for dismissal in Germany?"),
    ("How do I enable two-factor authentication on my account?",
     "How do I disable two-factor authentication on my account?"),
    ("Which common medications should be taken with food?",
     "Which common medications should be taken on an empty stomach?"),
    ("How do I add a taint to a Kubernetes node?",
     "How do I remove a taint from a Kubernetes node?"),
    ("How do bond prices react when interest rates go up?",
     "How do bond prices react when interest rates go down?"),
    ("How does a weaker yen affect Japanese exporters?",
     "How does a stronger yen affect Japanese exporters?"),
    ("SQL: sort the customers table by signup date ascending",
     "SQL: sort the customers table by signup date descending"),
    ("Which US states are east of the Mississippi River?",
     "Which US states are west of the Mississippi River?"),
    ("Excel: highlight cells that contain the word 'overdue'",
     "Excel: highlight cells that do not contain the word 'overdue'"),
    ("Which headache symptoms mean you should go to the emergency room?",
     "Which headache symptoms do not require going to the emergency room?"),
    ("What should I eat the day before a marathon?",
     "What should I eat the day after a marathon?"),
    ("Which items are travelers allowed to bring in carry-on bags on US flights?",
     "Which items are travelers not allowed to bring in carry-on bags on US flights?"),
    ("What are the advantages of leasing a car instead of buying one?",
     "What are the disadvantages of leasing a car instead of buying one?"),
    ("kubectl: list all pods that are running",
     "kubectl: list all pods that are not running"),
    ("What factors led to the rise of the Ottoman Empire?",
     "What factors led to the decline of the Ottoman Empire?"),
    ("SQL: select all orders placed after 2023-01-01",
     "SQL: select all orders placed before 2023-01-01"),
    ("Which metals react with dilute hydrochloric acid?",
     "Which metals do not react with dilute hydrochloric acid?"),
    ("Which expenses are tax deductible for freelancers in the UK?",
     "Which expenses are not tax deductible for freelancers in the UK?"),
    ("What are the health benefits of intermittent fasting?",
     "What are the health risks of intermittent fasting?"),
    ("How do I upgrade my plan to Pro?",
     "How do I downgrade my plan from Pro?"),
    ("Give three examples of exothermic reactions.",
     "Give three examples of endothermic reactions."),
    ("Who won the 1966 World Cup final?",
     "Who lost the 1966 World Cup final?"),
    ("Google Sheets formula to count cells greater than 100",
     "Google Sheets formula to count cells less than 100"),
    ("What can an employer legally ask in a job interview in the US?",
     "What can an employer not legally ask in a job interview in the US?"),
    ("Which countries are in the Schengen Area but not in the EU?",
     "Which countries are in the EU but not in the Schengen Area?"),
]

# --------------------------------------------------------------------------
# unit: other unit, currency, time zone, conversion direction
# --------------------------------------------------------------------------
UNIT = [
    ("Convert 100 miles to kilometers",
     "Convert 100 kilometers to miles"),
    ("What is 72 °F in Celsius?",
     "What is 72 °C in Fahrenheit?"),
    ("How much is 500 US dollars in euros?",
     "How much is 500 US dollars in British pounds?"),
    ("What time is 3 pm Eastern time in London?",
     "What time is 3 pm Pacific time in London?"),
    ("Convert 70 kg to pounds",
     "Convert 70 kg to stone"),
    ("What is the speed of light in meters per second?",
     "What is the speed of light in miles per hour?"),
    ("What is a normal fasting blood glucose level in mg/dL?",
     "What is a normal fasting blood glucose level in mmol/L?"),
    ("What is standard atmospheric pressure at sea level in pascals?",
     "What is standard atmospheric pressure at sea level in psi?"),
    ("What is the average monthly rent for a one-bedroom flat in Berlin in euros?",
     "What is the average monthly rent for a one-bedroom flat in Berlin in US dollars?"),
    ("How do I write 512 mebibytes as a Kubernetes memory limit?",
     "How do I write 512 megabytes as a Kubernetes memory limit?"),
    ("Excel: convert a Unix timestamp in seconds to a date",
     "Excel: convert a Unix timestamp in milliseconds to a date"),
    ("PostgreSQL: get the difference between two timestamps in hours",
     "PostgreSQL: get the difference between two timestamps in minutes"),
    ("What time is 9:00 CET in India?",
     "What time is 9:00 CET in Japan?"),
    ("Convert 30 miles per US gallon to liters per 100 km",
     "Convert 30 miles per imperial gallon to liters per 100 km"),
    ("How many grams are in one troy ounce?",
     "How many grams are in one avoirdupois ounce?"),
    ("How much energy is 1 kWh in joules?",
     "How much energy is 1 kWh in kilocalories?"),
    ("Convert 250 mL to US cups",
     "Convert 250 mL to US fluid ounces"),
    ("What is the US federal minimum wage per hour in euros?",
     "What is the US federal minimum wage per hour in Canadian dollars?"),
    ("Convert 39 degrees Celsius to Fahrenheit",
     "Convert 39 degrees Fahrenheit to Celsius"),
]

# --------------------------------------------------------------------------
# language: same question, another language (either direction)
# --------------------------------------------------------------------------
LANGUAGE = [
    ("What is the capital of Australia?",
     "Was ist die Hauptstadt von Australien?"),
    ("How do I cancel my subscription?",
     "Comment puis-je annuler mon abonnement ?"),
    ("What are the early warning signs of a stroke?",
     "¿Cuáles son las primeras señales de advertencia de un derrame cerebral?"),
    ("How do I roll back a Kubernetes deployment to the previous revision?",
     "Come posso fare il rollback di un deployment Kubernetes alla revisione precedente?"),
    ("How many days of annual leave is a full-time employee entitled to in Germany by law?",
     "Op hoeveel vakantiedagen heeft een voltijdse werknemer in Duitsland wettelijk recht?"),
    ("What does the offside rule in soccer say?",
     "O que diz a regra do impedimento no futebol?"),
    ("Wie lang ist die gesetzliche Kündigungsfrist während der Probezeit in Deutschland?",
     "How long is the statutory notice period during probation in Germany?"),
    ("¿Puedo llevar un power bank en la maleta facturada?",
     "Can I pack a power bank in my checked luggage?"),
    ("In SQL, what is the difference between INNER JOIN and LEFT JOIN?",
     "En SQL, quelle est la différence entre INNER JOIN et LEFT JOIN ?"),
    ("How do I freeze the top row in Excel so it stays visible while scrolling?",
     "Wie fixiere ich in Excel die oberste Zeile, damit sie beim Scrollen sichtbar bleibt?"),
    ("What is Newton's second law of motion?",
     "Qual è la seconda legge del moto di Newton?"),
    ("When did the Berlin Wall fall?",
     "Wanneer viel de Berlijnse Muur?"),
    ("Can my employer require me to work overtime?",
     "Meu empregador pode me obrigar a fazer horas extras?"),
    ("How do I reset my password?",
     "¿Cómo restablezco mi contraseña?"),
    ("What is the pH of pure water at 25 °C?",
     "Quel est le pH de l'eau pure à 25 °C ?"),
    ("What is an ETF and how is it different from a mutual fund?",
     "Was ist ein ETF und wie unterscheidet er sich von einem Investmentfonds?"),
    ("Come si calcola l'IVA su una fattura?",
     "How do I calculate VAT on an invoice?"),
    ("What documents do I need to rent a car in Spain?",
     "¿Qué documentos necesito para alquilar un coche en España?"),
    ("Hoe bereken ik een gewogen gemiddelde in Google Sheets?",
     "How do I calculate a weighted average in Google Sheets?"),
]

# --------------------------------------------------------------------------
# task: same subject, different deliverable
# --------------------------------------------------------------------------
TASK = [
    ("Explain what a non-compete clause is.",
     "Draft a non-compete clause for a software engineer's employment contract."),
    ("What is a liveness probe in Kubernetes?",
     "Write a liveness probe YAML snippet for an HTTP service listening on port 8080."),
    ("Summarize the causes of World War I.",
     "Write a five-question multiple-choice quiz about the causes of World War I."),
    ("Explain how compound interest works.",
     "Write an Excel formula that computes compound interest on the amount in B2 at rate B3 for B4 years."),
    ("In SQL, what is the difference between INNER JOIN and LEFT JOIN?",
     "Rewrite this query to use a LEFT JOIN: SELECT * FROM orders o JOIN customers c ON o.cid = c.id"),
    ("What are the symptoms of type 2 diabetes?",
     "Create a one-week meal plan for someone with type 2 diabetes."),
    ("Explain the offside rule in soccer.",
     "Write a ten-question quiz to test youth referees on the offside rule."),
    ("How do I request a refund for my subscription?",
     "Write a template reply support agents can send to customers asking for a subscription refund."),
    ("Plan a 3-day itinerary for Lisbon.",
     "Give me a packing list for a 3-day trip to Lisbon."),
    ("Explain Ohm's law.",
     "A 12 V battery is connected across a 4 Ω resistor. Calculate the current."),
    ("What is a pivot table?",
     "Create a pivot table that sums sales by region from the data in columns A to D."),
    ("What was the Marshall Plan?",
     "Write a persuasive essay arguing that the Marshall Plan was a success."),
    ("What is an index fund?",
     "Write a short tweet thread encouraging beginners to invest in index funds."),
    ("What is at-will employment?",
     "Draft an at-will employment clause for an offer letter."),
    ("What is a Helm chart?",
     "Write a Helm values.yaml for a Redis deployment with persistence enabled."),
    ("How does VLOOKUP work in Excel?",
     "Convert this formula to INDEX/MATCH: =VLOOKUP(A2,Sheet2!A:C,3,FALSE)"),
    ("What is a SQL window function?",
     "Write a SQL query that uses a window function to compute a running total of sales by date."),
    ("What are the side effects of ibuprofen?",
     "Write a plain-language patient leaflet about ibuprofen covering dosing and when to see a doctor."),
    ("How is a tiebreak played in tennis?",
     "Write a Python function that keeps score in a tennis tiebreak."),
    ("Which countries border Switzerland?",
     "Rank Switzerland's neighbouring countries by the length of their shared border."),
    ("What is the difference between a Deployment and a StatefulSet?",
     "Write a StatefulSet manifest for a three-replica PostgreSQL cluster."),
    ("What is a performance improvement plan?",
     "Write a performance improvement plan for an employee who keeps missing deadlines."),
    ("How do I balance chemical equations?",
     "Balance this equation: Fe + O2 -> Fe2O3"),
    ("What is the Schengen 90/180-day rule?",
     "Build a spreadsheet layout that tracks my days in the Schengen Area under the 90/180 rule."),
    ("How is severance pay usually calculated?",
     "Write a severance agreement template for a laid-off employee."),
    ("Explain the Excel VLOOKUP function to me",
     "Write a VBA macro that runs a VLOOKUP on every row of the sheet."),
]

# --------------------------------------------------------------------------
# unrelated: different topic (some share a surface word)
# --------------------------------------------------------------------------
UNRELATED = [
    ("How do I roll back a Kubernetes deployment to the previous revision?",
     "What is the capital of Peru?"),
    ("What are the common symptoms of iron deficiency anemia?",
     "How many players are on a volleyball team?"),
    ("What was the Marshall Plan?",
     "Excel formula to count non-empty cells"),
    ("How do I cancel my subscription?",
     "What is the boiling point of ethanol?"),
    ("What is the difference between a 401(k) and a Roth IRA?",
     "When is the best time of year to visit Iceland?"),
    ("How do I write a SQL query to find duplicate email addresses in a users table?",
     "Can my employer read my work emails?"),
    ("What is the half-life of carbon-14?",
     "How do I split a restaurant bill evenly in Google Sheets?"),
    ("Who signed the Magna Carta and when?",
     "kubectl get pods shows ImagePullBackOff, how do I fix it?"),
    ("How does VAR work in soccer?",
     "How do I claim travel expenses on my tax return?"),
    ("What is jet lag and how can I reduce it?",
     "Define force majeure in plain English."),
    ("How do I add a teammate to my workspace?",
     "Which team has won the most Super Bowls?"),
    ("What is Newton's second law of motion?",
     "How do I set up a Kubernetes ingress with TLS?"),
]

SOURCES = {
    "paraphrase": PARAPHRASE,
    "entity": ENTITY,
    "number": NUMBER,
    "negation": NEGATION,
    "unit": UNIT,
    "language": LANGUAGE,
    "task": TASK,
    "unrelated": UNRELATED,
}

_WORD = re.compile(r"\S+")


def words(text: str) -> int:
    return len(_WORD.findall(text))


def build() -> list[dict]:
    rows: list[dict] = []
    for kind, (prefix, hit, _minimum) in KINDS.items():
        for n, (cached, query) in enumerate(SOURCES[kind], start=1):
            rows.append(
                {
                    "id": f"ho-{prefix}-{n:03d}",
                    "kind": kind,
                    "cached": cached,
                    "query": query,
                    "should_hit": hit,
                }
            )
    validate(rows)
    return rows


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def validate(rows: list[dict]) -> None:
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)), "duplicate ids"
    assert len(rows) >= 200, len(rows)
    seen: set[frozenset] = set()
    for r in rows:
        assert r["kind"] in KINDS, r
        assert r["should_hit"] is KINDS[r["kind"]][1], r
        for field in ("cached", "query"):
            text = r[field]
            assert text == text.strip() and "\n" not in text, (r["id"], field)
            assert 3 <= words(text) <= 50, (r["id"], field, words(text))
        assert _norm(r["cached"]) != _norm(r["query"]), r["id"]
        # a pair counts as a duplicate in either order
        key = frozenset((_norm(r["cached"]), _norm(r["query"])))
        assert key not in seen, ("duplicate pair", r["id"])
        seen.add(key)
    for kind, (_prefix, _hit, minimum) in KINDS.items():
        count = sum(1 for r in rows if r["kind"] == kind)
        assert count >= minimum, (kind, count, minimum)


def render(rows: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if the file differs from what would be written")
    args = ap.parse_args()
    content = render(build())
    if args.check:
        current = OUT.read_text(encoding="utf-8") if OUT.exists() else None
        if current != content:
            print(f"{OUT} is out of date; run {Path(__file__).name}", file=sys.stderr)
            return 1
        print(f"{OUT} is up to date")
        return 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(content, encoding="utf-8")
    print(f"wrote {OUT} ({content.count(chr(10))} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
